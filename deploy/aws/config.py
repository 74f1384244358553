"""The CDK app's context, read once into a typed, frozen configuration.

Every value has a default, so `make synth` works with no context at all; `-c key=value` (CDK CLI) or
`python -m deploy.aws.app -c key=value` overrides one. Parameters that change per deployment without
changing the template's shape (the image tag, the certificate) are CloudFormation parameters instead
(`stack.Parameters`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from deploy.aws.errors import DeployConfigError

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_ACCOUNT = re.compile(r"\d{12}")


@dataclass(frozen=True)
class DeployConfig:
    """What one deployment (one region) looks like."""

    name: str = "pocdojo"
    region: str = "sa-east-1"
    account: str | None = None
    """None: the stack is account-agnostic (the account comes from the credentials at deploy time)."""
    availability_zones: tuple[str, ...] = ("sa-east-1a", "sa-east-1b", "sa-east-1c")
    nat_gateways: int = 3
    """One per AZ, so losing an AZ does not cut the others' egress."""
    public_url: str = "https://api.pocdojo.example"
    auth_mode: str = "cognito"
    min_tasks: int = 2
    max_tasks: int = 10
    db_min_acu: float = 0.5
    db_max_acu: float = 16.0
    aurora_version: str = "17.7"
    cache_node_type: str = "cache.t4g.small"
    cache_replicas: int = 2
    log_retention_days: int = 30
    report_expiry_days: int = 30
    video_expiry_days: int = 365
    waf_rate_limit: int = 2000
    """Requests per client address in any 5-minute window before WAF blocks it."""
    alarm_email: str | None = None
    with_services: bool = True
    """False (`-c services=false`): the first deployment, without the application services, so the database
    can be bootstrapped and migrated before any service must become ready (docs/deploy.md)."""
    turn_image: str = "coturn/coturn:4.6.3"
    adot_image: str = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3"

    @classmethod
    def from_context(cls, context: Mapping[str, object]) -> DeployConfig:
        """Build the configuration from CDK context values (strings from `-c`, or JSON values)."""

        def text(key: str, default: str) -> str:
            value = context.get(key, default)
            if not isinstance(value, str) or not value:
                raise DeployConfigError(f"context {key!r} must be a non-empty string")
            return value

        def number(key: str, default: float) -> float:
            value = context.get(key, default)
            try:
                return float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise DeployConfigError(f"context {key!r} must be a number, not {value!r}") from None

        def integer(key: str, default: int) -> int:
            value = number(key, default)
            if value != int(value):
                raise DeployConfigError(f"context {key!r} must be a whole number, not {value!r}")
            return int(value)

        region = text("region", cls.region)
        if not _REGION.fullmatch(region):
            raise DeployConfigError(f"context 'region' is not an AWS region name: {region!r}")
        account = context.get("account")
        if account is not None and (not isinstance(account, str) or not _ACCOUNT.fullmatch(account)):
            raise DeployConfigError("context 'account' must be a 12-digit AWS account id")
        azs_value = context.get("azs", ",".join(f"{region}{suffix}" for suffix in "abc"))
        azs = tuple(az.strip() for az in str(azs_value).split(",") if az.strip())
        if len(azs) < 2 or len(set(azs)) != len(azs) or any(not az.startswith(region) for az in azs):
            raise DeployConfigError(f"context 'azs' must name at least two distinct AZs of {region}: {azs_value!r}")
        nat = integer("nat_gateways", len(azs))
        if not 1 <= nat <= len(azs):
            raise DeployConfigError(f"context 'nat_gateways' must be between 1 and {len(azs)}")
        auth_mode = text("auth_mode", cls.auth_mode)
        if auth_mode not in ("cognito", "local"):
            raise DeployConfigError("context 'auth_mode' is 'cognito' or 'local'")
        public_url = text("public_url", cls.public_url).rstrip("/")
        if not public_url.startswith("https://"):
            raise DeployConfigError("context 'public_url' must be an https:// URL (the ALB only serves HTTPS)")
        min_tasks = integer("min_tasks", cls.min_tasks)
        max_tasks = integer("max_tasks", cls.max_tasks)
        if min_tasks < 2 or max_tasks < min_tasks:
            raise DeployConfigError("context 'min_tasks' must be at least 2 and 'max_tasks' at least 'min_tasks'")
        aurora_version = text("aurora_version", cls.aurora_version)
        if not re.fullmatch(r"17\.\d+", aurora_version):
            raise DeployConfigError(f"context 'aurora_version' must be an Aurora PostgreSQL 17.x: {aurora_version!r}")
        cache_replicas = integer("cache_replicas", cls.cache_replicas)
        if not 1 <= cache_replicas <= 5:
            raise DeployConfigError("context 'cache_replicas' is 1 to 5 (automatic failover needs a replica)")
        alarm_email = context.get("alarm_email")
        if alarm_email is not None and (not isinstance(alarm_email, str) or "@" not in alarm_email):
            raise DeployConfigError("context 'alarm_email' must be an e-mail address")
        services = context.get("services", True)
        if services not in (True, False, "true", "false"):
            raise DeployConfigError("context 'services' is true or false")
        return cls(
            name=text("name", cls.name),
            region=region,
            account=account,
            availability_zones=azs,
            nat_gateways=nat,
            public_url=public_url,
            auth_mode=auth_mode,
            min_tasks=min_tasks,
            max_tasks=max_tasks,
            db_min_acu=number("db_min_acu", cls.db_min_acu),
            db_max_acu=number("db_max_acu", cls.db_max_acu),
            aurora_version=aurora_version,
            cache_node_type=text("cache_node_type", cls.cache_node_type),
            cache_replicas=cache_replicas,
            log_retention_days=integer("log_retention_days", cls.log_retention_days),
            report_expiry_days=integer("report_expiry_days", cls.report_expiry_days),
            video_expiry_days=integer("video_expiry_days", cls.video_expiry_days),
            waf_rate_limit=integer("waf_rate_limit", cls.waf_rate_limit),
            alarm_email=alarm_email,
            with_services=services in (True, "true"),
            turn_image=text("turn_image", cls.turn_image),
            adot_image=text("adot_image", cls.adot_image),
        )
