"""The identity service's ASGI app: `create_app(settings)`."""

from __future__ import annotations

import re
from contextlib import AsyncExitStack

from fastapi import FastAPI

from identity.api import router
from identity.invitations import Invitations
from identity.invitations_api import router as invitations_router
from identity.keys import KeyRing
from identity.members import Members
from identity.members_api import router as members_router
from identity.passwords import PasswordHasher, PasswordPolicy
from identity.service import ForgetUser, IdentityService
from identity.services import IdentityServices
from identity.signup import Registration
from identity.throttle import Clock, LoginThrottle, RegistrationThrottle, ThrottleLimits
from identity.tokens import TokenIssuer
from runtime.auth import verifier_startup
from runtime.db import Database
from runtime.http import create_service_app
from runtime.resources import database_startup
from runtime.root import ServiceRoot
from runtime.settings import IdentitySettings


def load_keys(settings: IdentitySettings) -> KeyRing:
    """Production keys come from settings; dev and test keep generated keys in the state dir."""
    if settings.signing_keys is not None:
        pems = _split_pems(settings.signing_keys.get_secret_value())
        return KeyRing.from_pems(pems)
    if settings.env == "production":
        raise ValueError("POCDOJO_SIGNING_KEYS must hold the PEM private key(s) in production")
    return KeyRing.load_or_create(settings.state_dir / "keys")


_PEM_RE = re.compile(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", re.DOTALL)


def _split_pems(text: str) -> list[str]:
    pems = _PEM_RE.findall(text)
    if not pems:
        raise ValueError("POCDOJO_SIGNING_KEYS holds no PEM block")
    return list(pems)


def build_service(
    settings: IdentitySettings,
    db: Database,
    ring: KeyRing,
    *,
    forget_user: ForgetUser | None = None,
    throttle_clock: Clock | None = None,
) -> IdentityService:
    return IdentityService(
        db,
        hasher=PasswordHasher(),
        policy=PasswordPolicy(min_length=settings.password_min_length),
        issuer=TokenIssuer(
            keys=ring,
            issuer=settings.issuer,
            audience=settings.auth_audience,
            client_id=settings.auth_client_ids[0],
            access_ttl=settings.access_token_ttl,
        ),
        throttle=LoginThrottle(
            ThrottleLimits(
                per_account_address=settings.login_max_failures_per_account_ip,
                per_address=settings.login_max_failures_per_ip,
                window_seconds=settings.login_failure_window_seconds,
            ),
            clock=throttle_clock,
        ),
        refresh_ttl=settings.refresh_token_ttl,
        forget_user=forget_user,
    )


def create_app(
    settings: IdentitySettings, *, keys: KeyRing | None = None, throttle_clock: Clock | None = None
) -> FastAPI:
    """The identity app; `throttle_clock` is the brute-force throttles' clock (default: PostgreSQL's)."""
    ring = keys if keys is not None else load_keys(settings)

    async def identity_startup(root: ServiceRoot, stack: AsyncExitStack) -> None:
        # This node enforces its own changes of rights at once (others within the status TTL).
        statuses = root.principal_statuses
        forget = statuses.forget_user if statuses is not None else None
        service = build_service(settings, root.db, ring, forget_user=forget, throttle_clock=throttle_clock)
        root.provide(
            IdentityServices(
                settings=settings,
                keys=ring,
                operator_token=settings.operator_token.get_secret_value() if settings.operator_token else None,
                identity=service,
                invitations=Invitations(root.db),
                members=Members(root.db),
                registration=Registration(
                    root.db,
                    hasher=service.hasher,
                    policy=service.policy,
                    throttle=RegistrationThrottle(
                        settings.register_max_per_ip, settings.register_window_seconds, clock=throttle_clock
                    ),
                ),
            )
        )

    app = create_service_app(
        service="identity",
        title="POC Dojo identity",
        description="Tenants, users, sign-in and tokens.",
        settings=settings,
        docs_prefix="/v1/auth",
        startup=[
            database_startup,
            verifier_startup(ring.jwks if settings.auth_mode == "local" else None),
            identity_startup,
        ],
    )
    app.include_router(router)
    app.include_router(invitations_router)
    app.include_router(members_router)
    return app
