"""The CDK app: `python -m deploy.aws.app [-c key=value ...] [--outdir DIR]` synthesizes the templates.

Synthesis is offline: no lookup (the AZs are named in the context), no Docker (the services run an
image from the registry stack's repository, by the `ImageTag` parameter), no AWS credentials. The CDK
CLI deploys the synthesized assembly (`cdk deploy --app deploy/aws/cdk.out`): docs/deploy.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path

# The jsii runtime prints a banner on Node 20 (out of its support window, still working); the tests
# and CI run Node 20. Set before aws_cdk starts the runtime.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from deploy.aws.config import DeployConfig
from deploy.aws.registry import RegistryStack
from deploy.aws.stack import PocDojoStack
from deploy.aws.workers import WORKERS
from deploy.services import SERVICES

FEATURE_FLAGS: dict[str, object] = {
    # Adds a Lambda-backed custom resource that empties the default security group: off (see network.py).
    "@aws-cdk/aws-ec2:restrictDefaultSecurityGroup": False,
    # S3 server access logs granted by a bucket policy, not the legacy `LogDeliveryWrite` ACL (cfn-lint W3045).
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    # Would install the latest AWS SDK in AwsCustomResource Lambdas: none is used; off for certainty.
    "@aws-cdk/customresources:installLatestAwsSdkDefault": False,
}
"""Feature flags pinned by the app (context wins over the library's defaults)."""

_RENAMED = {"availability_zones": "azs", "with_services": "services"}
CONTEXT_KEYS: tuple[str, ...] = tuple(_RENAMED.get(f.name, f.name) for f in fields(DeployConfig))
DEFAULT_OUTDIR = Path(__file__).parent / "cdk.out"


def build_app(context: Mapping[str, object] | None = None, outdir: str | None = None) -> App:
    """The app with its two stacks and the AWS Solutions checks; call `.synth()` on it."""
    app = App(context={**FEATURE_FLAGS, **(context or {})}, outdir=outdir)
    values = {key: app.node.try_get_context(key) for key in CONTEXT_KEYS}
    config = DeployConfig.from_context({key: value for key, value in values.items() if value is not None})
    env = Environment(account=config.account, region=config.region)
    registry = RegistryStack(app, f"{config.name}-registry", config=config, env=env)
    PocDojoStack(
        app,
        config.name,
        config=config,
        repository=registry.repository,
        services=SERVICES,
        workers=WORKERS,
        env=env,
        description="POC Dojo: one region, multi-AZ, no Lambda",
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def _context_pairs(pairs: list[str]) -> dict[str, object]:
    context: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: -c expects key=value, got {pair!r}")
        context[key] = value
    return context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.aws.app", description=__doc__)
    parser.add_argument("-c", "--context", action="append", default=[], help="a context value, key=value")
    parser.add_argument("--outdir", default=os.environ.get("CDK_OUTDIR", str(DEFAULT_OUTDIR)))
    args = parser.parse_args(argv)
    app = build_app(_context_pairs(args.context), outdir=args.outdir)
    assembly = app.synth()
    for stack in assembly.stacks:
        print(f"{stack.stack_name}: {Path(assembly.directory) / stack.template_file}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
