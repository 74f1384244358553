"""Authentication for every service, built on the identity token verifier.

`require_principal` is a FastAPI dependency: it reads `Authorization: Bearer`, verifies the token,
records the tenant for logs, and answers 401 problem+json otherwise. The verifier is created by
`build_verifier(settings)` and kept on `app.state.verifier` by the service's startup step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from identity.verifier import (
    HttpJwksSource,
    JwksSource,
    Principal,
    StaticJwksSource,
    TokenError,
    TokenVerifier,
    VerifierConfig,
)
from runtime.context import set_principal
from runtime.errors import Forbidden, Unauthorized
from runtime.metrics import AUTH_FAILURES
from runtime.settings import Settings

__all__ = [
    "CurrentPrincipal",
    "Principal",
    "TokenError",
    "TokenVerifier",
    "authenticate_token",
    "require_principal",
    "require_role",
    "verifier_config",
    "verifier_startup",
]

_bearer = HTTPBearer(auto_error=False, description="An access token from POST /v1/auth/token (or Cognito).")


def verifier_config(settings: Settings) -> VerifierConfig:
    return VerifierConfig(
        mode=settings.auth_mode,
        issuer=settings.issuer,
        client_ids=frozenset(settings.auth_client_ids),
        audience=settings.auth_audience if settings.auth_mode == "local" else None,
        leeway_seconds=settings.auth_leeway_seconds,
    )


def verifier_startup(
    local_jwks: Callable[[], Mapping[str, Any]] | None = None,
) -> Callable[[FastAPI, AsyncExitStack], Any]:
    """A startup step that puts a TokenVerifier on `app.state.verifier`.

    `local_jwks` is given when the issuer runs in the same process (dev mode, tests): keys are then
    read directly instead of over HTTP. Otherwise the JWKS URL from settings is fetched.
    """

    async def start(app: FastAPI, stack: AsyncExitStack) -> None:
        settings: Settings = app.state.settings
        source: JwksSource
        if local_jwks is not None:
            source = StaticJwksSource(local_jwks)
        else:
            client = await stack.enter_async_context(httpx.AsyncClient(timeout=5.0))
            source = HttpJwksSource(settings.jwks_url, client=client)
        verifier = TokenVerifier(verifier_config(settings), source)
        stack.push_async_callback(verifier.aclose)
        app.state.verifier = verifier

    return start


async def authenticate_token(verifier: TokenVerifier, token: str) -> Principal:
    try:
        principal = await verifier.verify(token)
    except TokenError as exc:
        AUTH_FAILURES.labels(exc.code).inc()
        raise Unauthorized(exc.detail, code="invalid_token") from exc
    set_principal(principal.tenant_id, principal.subject)
    return principal


async def require_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        AUTH_FAILURES.labels("missing").inc()
        raise Unauthorized(
            "This endpoint needs an access token: send Authorization: Bearer <token>.", code="invalid_request"
        )
    if credentials.scheme.lower() != "bearer":
        raise Unauthorized("Only Bearer tokens are accepted.", code="invalid_request")
    verifier: TokenVerifier = request.app.state.verifier
    return await authenticate_token(verifier, credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]


def require_role(principal: Principal, role: str) -> None:
    if role not in principal.roles:
        raise Forbidden(f"This action needs the '{role}' role.")
