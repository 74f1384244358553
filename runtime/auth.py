"""Authentication for every service, built on the identity token verifier.

`require_principal` is a FastAPI dependency: it reads `Authorization: Bearer`, verifies the token,
records the tenant for logs, and answers 401 problem+json otherwise. The verifier is created by
`verifier_startup()` and kept on the service's composition root (`runtime.root`) by its startup step.

`VerifiedTokens` is a short-lived memo of verified access tokens in front of the verifier, for any
service (`verifier_startup(memoize=True)`). A client sends the same access token with every request for
up to its lifetime (15 minutes by default), and verifying it (RS256 signature, claims) is the largest
fixed cost of a small request. The memo remembers the principal of a token it verified, keyed by the
exact token text (the same bytes carry the same signature, so nothing weaker than the original check is
trusted), for at most `ttl_seconds` and never past the token's own `exp` — no leeway on a hit: a token
whose expiry is near goes back to the full verifier, which applies the configured leeway itself. It is
bounded (the least recently used entries go first) and per process; failures are never remembered.
What a memo cannot see: a signing key withdrawn from the issuer's JWKS stops verifying *new* tokens at
once, but tokens already verified keep working for at most `ttl_seconds` more.

`CurrentPrincipals` is the outermost layer in local mode (every service, every request and websocket
upgrade): a verified token is only a claim about the past, so the token's account is looked up in the
identity service's current records (`runtime.principal_status`, cached ≤ `POCDOJO_AUTH_STATUS_TTL_SECONDS`):
a deleted account or a revoked sign-in (the token's ``sid``, its refresh-token family) is refused with
401 `token_revoked`, and the principal carries the account's *current* roles, not the token's. A
local-mode token without ``sid`` cannot be tied to a sign-in and is refused too (tokens issued before
``sid`` existed: the client refreshes).

Cognito mode is explicit about what it cannot do: accounts and groups live in the Cognito user pool,
not in `identity.users`, so there is no current record to consult. Tenant and roles are the token's
``cognito:groups`` at issue time, and a Cognito-side change (user deleted or disabled, group removed,
`AdminUserGlobalSignOut`, `RevokeToken`) reaches our services only when the access token expires: keep
the app client's access-token validity short (5 minutes is Cognito's minimum). `verifier_startup`
installs no current-user check in that mode (the root's `principal_statuses` is None).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from typing import Annotated, Any, Protocol

import httpx
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from auth_tokens.verifier import (
    HttpJwksSource,
    JwksSource,
    Principal,
    Revoked,
    StaticJwksSource,
    TokenError,
    TokenVerifier,
    VerifierConfig,
)
from runtime.context import set_principal
from runtime.errors import Forbidden, Unauthorized
from runtime.metrics import AUTH_FAILURES
from runtime.principal_status import PostgresStatusSource, PrincipalStatuses
from runtime.root import ServiceRoot, request_root
from runtime.settings import SharedSettings
from runtime.tracing import instrument_http_client

__all__ = [
    "BEARER_SECURITY",
    "CurrentPrincipal",
    "CurrentPrincipals",
    "Principal",
    "TokenError",
    "TokenVerifier",
    "VerifiedTokens",
    "Verifier",
    "authenticate_token",
    "principal_from_request",
    "require_principal",
    "require_role",
    "verifier_config",
    "verifier_startup",
]

_bearer = HTTPBearer(auto_error=False, description="An access token from POST /v1/auth/token (or Cognito).")


class Verifier(Protocol):
    """What `require_principal` needs: `TokenVerifier`, or `VerifiedTokens` in front of it."""

    async def verify(self, token: str) -> Principal: ...


class VerifiedTokens:
    """A bounded memo of verified tokens in front of a verifier: same `verify` contract (module docstring).

    The wrapped verifier keeps its own lifecycle (`verifier_startup` closes it at shutdown).
    """

    def __init__(
        self,
        inner: Verifier,
        *,
        max_entries: int = 4096,
        ttl_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries < 1 or ttl_seconds <= 0:
            raise ValueError("max_entries must be at least 1 and ttl_seconds positive")
        self.inner = inner
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        """The token's principal: from the memo if verified less than `ttl_seconds` ago and unexpired."""
        now = self._clock()
        entry = self._entries.get(token)
        if entry is not None:
            principal, verified_at = entry
            if now - verified_at < self.ttl_seconds and now < principal.expires_at:
                self._entries.move_to_end(token)
                return principal
            del self._entries[token]
        principal = await self.inner.verify(token)
        self._entries[token] = (principal, now)
        if len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return principal

    def __len__(self) -> int:
        return len(self._entries)


def _uuid(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class CurrentPrincipals:
    """A `Verifier` that also checks the token's account against identity's current records (module
    docstring): refuses deleted accounts and revoked sign-ins, and answers with the current roles."""

    def __init__(self, inner: Verifier, statuses: PrincipalStatuses) -> None:
        self.inner = inner
        self.statuses = statuses

    async def verify(self, token: str) -> Principal:
        principal = await self.inner.verify(token)
        roles = await self.current_roles(principal.tenant_id, principal.subject, principal.session_id)
        return principal if roles == principal.roles else dataclasses.replace(principal, roles=roles)

    async def current_roles(self, tenant_id: str, user_id: str, session_id: str | None) -> frozenset[str]:
        """The account's roles now; raises `Revoked` if the account or the sign-in is gone (also for
        credentials other than access tokens that name them, e.g. the dojo's connection tickets)."""
        tenant, user, session = _uuid(tenant_id), _uuid(user_id), _uuid(session_id)
        if session is None:
            raise Revoked("The access token names no sign-in session ('sid'); sign in again.")
        if tenant is None or user is None:
            raise Revoked("The access token's account no longer exists.")
        status = await self.statuses.get(tenant, user, session)
        if not status.user_exists:
            raise Revoked("The access token's account no longer exists.")
        if not status.session_active:
            raise Revoked("The sign-in this access token belongs to was revoked; sign in again.")
        return status.roles


def verifier_config(settings: SharedSettings) -> VerifierConfig:
    return VerifierConfig(
        mode=settings.auth_mode,
        issuer=settings.issuer,
        client_ids=frozenset(settings.auth_client_ids),
        audience=settings.auth_audience if settings.auth_mode == "local" else None,
        leeway_seconds=settings.auth_leeway_seconds,
    )


def verifier_startup(
    local_jwks: Callable[[], Mapping[str, Any]] | None = None,
    *,
    memoize: bool = False,
) -> Callable[[ServiceRoot, AsyncExitStack], Any]:
    """A startup step that puts a TokenVerifier on the composition root (`root.verifier`).

    `local_jwks` is given when the issuer runs in the same process (dev mode, tests): keys are then
    read directly instead of over HTTP. Otherwise the JWKS URL from settings is fetched. With
    `memoize`, the verifier sits behind a `VerifiedTokens` memo (for request/response services; a
    service that keeps the `TokenVerifier` itself, e.g. to re-check long-lived connections, leaves it off).
    In local mode the result is wrapped in `CurrentPrincipals` (it needs `root.db`: put the database
    startup step first), whose memo is also kept as `root.principal_statuses`; in Cognito mode that is
    None (module docstring).
    """

    async def start(root: ServiceRoot, stack: AsyncExitStack) -> None:
        settings = root.settings
        source: JwksSource
        if local_jwks is not None:
            source = StaticJwksSource(local_jwks)
        else:
            client = await stack.enter_async_context(httpx.AsyncClient(timeout=5.0))
            instrument_http_client(client)  # a JWKS fetch on an unknown key shows in the request's trace
            source = HttpJwksSource(settings.jwks_url, client=client)
        verifier = TokenVerifier(verifier_config(settings), source)
        stack.push_async_callback(verifier.aclose)
        inner: Verifier = VerifiedTokens(verifier) if memoize else verifier
        if settings.auth_mode == "local":
            statuses_source = PostgresStatusSource(root.db)
            statuses = PrincipalStatuses(statuses_source, ttl_seconds=settings.auth_status_ttl_seconds)
            root.set_verifier(CurrentPrincipals(inner, statuses), statuses)
        else:
            root.set_verifier(inner, None)

    return start


async def authenticate_token(verifier: Verifier, token: str) -> Principal:
    try:
        principal = await verifier.verify(token)
    except TokenError as exc:
        AUTH_FAILURES.labels(exc.code).inc()
        raise Unauthorized(exc.detail, code="invalid_token") from exc
    set_principal(principal.tenant_id, principal.subject)
    return principal


def _missing_token() -> Unauthorized:
    AUTH_FAILURES.labels("missing").inc()
    return Unauthorized(
        "This endpoint needs an access token: send Authorization: Bearer <token>.", code="invalid_request"
    )


async def require_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise _missing_token()
    if credentials.scheme.lower() != "bearer":
        raise Unauthorized("Only Bearer tokens are accepted.", code="invalid_request")
    verifier = request_root(request).verifier
    return await authenticate_token(verifier, credentials.credentials)


BEARER_SECURITY: list[dict[str, list[str]]] = [{_bearer.scheme_name: []}]
"""The OpenAPI `security` of an operation that calls `principal_from_request` itself."""


async def principal_from_request(request: Request) -> Principal:
    """`require_principal` as a plain call rather than a FastAPI dependency (whose resolution costs more
    than the check on a hot endpoint): the same header reading (`HTTPBearer`'s), the same answers. The
    operation then documents `openapi_extra={"security": BEARER_SECURITY}` itself."""
    authorization = request.headers.get("Authorization")
    scheme, token = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and token) or scheme.lower() != "bearer":
        raise _missing_token()
    verifier = request_root(request).verifier
    return await authenticate_token(verifier, token)


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]


def require_role(principal: Principal, role: str) -> None:
    if role not in principal.roles:
        raise Forbidden(f"This action needs the '{role}' role.")
