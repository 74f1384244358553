"""The access-token verifier every service uses.

Theory of operation. `TokenVerifier.verify` turns a bearer token into a `Principal` or raises a
`TokenError` subclass; nothing else escapes (pyjwt and cryptography errors are translated). The steps:

1. Parse the JOSE header without trusting it: only ``alg: RS256`` is accepted (``none``, HS256 — including
   HS256 keyed with our public key — and every other algorithm are refused); headers that point at keys
   (``jku``, ``x5u``, ``jwk``, ``x5c``) or declare extensions (``crit``, ``b64``) are refused, so keys are
   never taken from a token; ``kid`` is required. In local mode the header must say ``typ: at+jwt``
   (RFC 9068), which our issuer sets on access tokens and not on ID tokens.
2. Look the ``kid`` up in a `JwksCache` fed by a `JwksSource` (HTTP for a remote issuer such as Cognito, or
   the in-process key ring in development). The first use fetches; an unknown ``kid`` triggers at most one
   refetch per ``min_refetch_interval_seconds`` (concurrent callers share one in-flight fetch); keys older
   than ``jwks_cache_seconds`` are refreshed so a key withdrawn by the issuer stops verifying; if the issuer
   is down the last good keys are kept.
3. Verify the RS256 signature with pyjwt (``algorithms=["RS256"]``), then check the claims ourselves:
   ``exp`` (required), ``nbf`` and ``iat`` (if present) with at most 60 s of leeway, ``iss`` exactly,
   ``token_use == "access"``, the client (``client_id``) and, in local mode, the audience (``aud``).
4. Build the principal. Local mode: our own claims ``tenant_id`` (UUID), ``tenant`` (slug), ``roles``,
   ``scope``, ``email``. Cognito mode: access tokens have ``client_id`` and no ``aud``; the tenant comes
   only from the administrator-assigned group ``tenant:<uuid>`` (exactly one) in ``cognito:groups`` and the
   roles from ``role:admin`` / ``role:member`` (default member) — never from a user-writable attribute.

Errors carry a short machine `code` and a `detail` that is safe to show to the client (it never contains
the token or values taken from it). `KeysUnavailable` means the issuer's keys could not be obtained: a
server-side problem (HTTP 503), unlike the others (401).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Final, Literal, Protocol

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "KNOWN_ROLES",
    "MAX_LEEWAY_SECONDS",
    "MAX_TOKEN_LENGTH",
    "ROLE_ADMIN",
    "ROLE_GROUP_PREFIX",
    "ROLE_MEMBER",
    "TENANT_GROUP_PREFIX",
    "ForbiddenHeader",
    "HttpJwksSource",
    "InvalidClaims",
    "InvalidSignature",
    "JwksCache",
    "JwksSource",
    "KeysUnavailable",
    "MalformedToken",
    "MissingTenant",
    "Principal",
    "Revoked",
    "StaticJwksSource",
    "TokenError",
    "TokenExpired",
    "TokenNotYetValid",
    "TokenVerifier",
    "UnknownKey",
    "UnsupportedAlgorithm",
    "VerifierConfig",
    "WrongAudience",
    "WrongIssuer",
    "WrongTokenUse",
    "cognito_issuer",
    "jwks_url",
    "parse_jwks",
]

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------------
# Errors: TokenError
#   ├── MalformedToken ── ForbiddenHeader
#   ├── UnsupportedAlgorithm
#   ├── UnknownKey
#   ├── InvalidSignature
#   ├── TokenExpired
#   ├── TokenNotYetValid
#   ├── WrongIssuer
#   ├── WrongTokenUse
#   ├── WrongAudience
#   ├── InvalidClaims
#   ├── MissingTenant
#   ├── Revoked           (raised by runtime.auth's current-user check, not by the verifier)
#   └── KeysUnavailable   (status 503)
# --------------------------------------------------------------------------------------------------


class TokenError(Exception):
    """A bearer token was refused. `code` is machine-readable; `detail` is safe to show to the client."""

    code: ClassVar[str] = "invalid_token"
    status: ClassVar[int] = 401
    default_detail: ClassVar[str] = "The access token is invalid."

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)


class MalformedToken(TokenError):
    """Not a compact RS256 JWS with JSON header and claims, or a required header is missing."""

    code = "malformed_token"
    default_detail = "The access token is not a well-formed JWT."


class ForbiddenHeader(MalformedToken):
    """The header references keys (jku, x5u, jwk, x5c) or declares extensions (crit, b64)."""

    code = "forbidden_header"
    default_detail = "The access token header carries parameters that are not accepted."


class UnsupportedAlgorithm(TokenError):
    """The header's ``alg`` is not RS256."""

    code = "unsupported_algorithm"
    default_detail = "The access token must be signed with RS256."


class UnknownKey(TokenError):
    """The ``kid`` is not among the issuer's published keys."""

    code = "unknown_key"
    default_detail = "The access token was signed with an unknown key."


class InvalidSignature(TokenError):
    """The RS256 signature does not match."""

    code = "invalid_signature"
    default_detail = "The access token signature is invalid."


class TokenExpired(TokenError):
    """``exp`` has passed (beyond the leeway)."""

    code = "token_expired"
    default_detail = "The access token has expired."


class TokenNotYetValid(TokenError):
    """``nbf`` or ``iat`` lies in the future (beyond the leeway)."""

    code = "token_not_yet_valid"
    default_detail = "The access token is not valid yet."


class WrongIssuer(TokenError):
    """``iss`` is not the configured issuer."""

    code = "wrong_issuer"
    default_detail = "The access token was not issued by the trusted issuer."


class WrongTokenUse(TokenError):
    """Not an access token (e.g. an ID token), by ``token_use`` or the ``typ`` header."""

    code = "wrong_token_use"
    default_detail = "The token is not an access token."


class WrongAudience(TokenError):
    """The token's ``client_id`` is not accepted, or (local mode) ``aud`` is not our audience."""

    code = "wrong_audience"
    default_detail = "The access token was issued for another client or audience."


class InvalidClaims(TokenError):
    """A required claim is missing or a claim has the wrong type or value."""

    code = "invalid_claims"
    default_detail = "The access token claims are missing or invalid."


class MissingTenant(TokenError):
    """The token does not name exactly one valid tenant."""

    code = "missing_tenant"
    default_detail = "The access token does not belong to exactly one tenant."


class Revoked(TokenError):
    """The token verifies, but what it stands for is gone: its account was deleted, or the sign-in
    (refresh-token family, ``sid``) it was issued for was revoked. Decided by `runtime.auth`'s check of
    the identity service's current records; the verifier alone cannot know it."""

    code = "token_revoked"
    default_detail = "The access token was revoked; sign in again."


class KeysUnavailable(TokenError):
    """The issuer's keys could not be obtained and none are cached (a server-side failure)."""

    code = "keys_unavailable"
    status = 503
    default_detail = "The token signing keys are temporarily unavailable."


# --------------------------------------------------------------------------------------------------
# Configuration and result
# --------------------------------------------------------------------------------------------------

MAX_LEEWAY_SECONDS: Final = 60
MAX_TOKEN_LENGTH: Final = 16 * 1024
ROLE_ADMIN: Final = "admin"
ROLE_MEMBER: Final = "member"
KNOWN_ROLES: Final = frozenset({ROLE_ADMIN, ROLE_MEMBER})
TENANT_GROUP_PREFIX: Final = "tenant:"
ROLE_GROUP_PREFIX: Final = "role:"

_ACCESS_TYPS: Final = frozenset({"at+jwt", "application/at+jwt"})
_KEY_REFERENCE_HEADERS: Final = ("jku", "x5u", "jwk", "x5c")
_EXTENSION_HEADERS: Final = ("crit", "b64")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_MIN_RSA_BITS: Final = 2048
_MAX_RSA_BITS: Final = 8192


def cognito_issuer(region: str, user_pool_id: str) -> str:
    """The ``iss`` of a Cognito user pool: ``https://cognito-idp.{region}.amazonaws.com/{pool id}``."""
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def jwks_url(issuer: str) -> str:
    """The JWKS URL of an OpenID issuer (Cognito's and ours): ``{issuer}/.well-known/jwks.json``."""
    return issuer.rstrip("/") + "/.well-known/jwks.json"


@dataclass(frozen=True, slots=True)
class VerifierConfig:
    """What a service accepts.

    `client_ids` are the OAuth clients whose access tokens are accepted. `audience` is required in local
    mode (our access tokens carry ``aud``) and must be None in Cognito mode (Cognito access tokens have no
    ``aud``). `leeway_seconds` (0–60) absorbs clock skew for ``exp``, ``nbf`` and ``iat``.
    """

    mode: Literal["local", "cognito"]
    issuer: str
    client_ids: frozenset[str]
    audience: str | None = None
    leeway_seconds: int = 30
    jwks_cache_seconds: float = 3600
    min_refetch_interval_seconds: float = 30

    def __post_init__(self) -> None:
        if self.mode not in ("local", "cognito"):
            raise ValueError("mode must be 'local' or 'cognito'")
        if not isinstance(self.issuer, str) or not self.issuer:
            raise ValueError("issuer must be a non-empty string")
        client_ids: object = self.client_ids
        if isinstance(client_ids, str) or not isinstance(client_ids, Iterable):
            raise TypeError("client_ids must be a collection of client id strings")
        frozen = frozenset(client_ids)
        if not frozen or not all(isinstance(c, str) and c for c in frozen):
            raise ValueError("client_ids must hold at least one non-empty client id")
        object.__setattr__(self, "client_ids", frozen)
        if self.mode == "local" and not self.audience:
            raise ValueError("local mode needs an audience (our access tokens carry 'aud')")
        if self.mode == "cognito" and self.audience is not None:
            raise ValueError("Cognito access tokens have no 'aud': leave audience None in cognito mode")
        if (
            isinstance(self.leeway_seconds, bool)
            or not isinstance(self.leeway_seconds, int)
            or not 0 <= self.leeway_seconds <= MAX_LEEWAY_SECONDS
        ):
            raise ValueError(f"leeway_seconds must be an integer between 0 and {MAX_LEEWAY_SECONDS}")
        if not self.jwks_cache_seconds > 0:
            raise ValueError("jwks_cache_seconds must be positive")
        if not self.min_refetch_interval_seconds >= 0:
            raise ValueError("min_refetch_interval_seconds must not be negative")


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request.

    `tenant_id` is a canonical UUID string; `roles` ⊆ {"admin", "member"} (never empty); `scopes` is the
    token's ``scope`` split on spaces; `claims` is the verified claim set (read-only); `tenant_slug` is only
    known in local mode. `session_id` is the sign-in the token was issued for (local mode: ``sid``, the
    refresh-token family; None when the token carries none). The roles are the token's; services see the
    account's current roles instead (`runtime.auth.CurrentPrincipals`).
    """

    subject: str
    tenant_id: str
    roles: frozenset[str]
    client_id: str
    scopes: frozenset[str]
    expires_at: int
    claims: Mapping[str, Any] = field(repr=False)
    email: str | None = None
    tenant_slug: str | None = None
    session_id: str | None = None

    @property
    def is_admin(self) -> bool:
        """True if the caller has the tenant admin role."""
        return ROLE_ADMIN in self.roles


# --------------------------------------------------------------------------------------------------
# Key sources and the key cache
# --------------------------------------------------------------------------------------------------


class JwksSource(Protocol):
    """Where the issuer's JWK Set comes from. `fetch` raises `KeysUnavailable` when it cannot get one."""

    async def fetch(self) -> Mapping[str, Any]:
        """Return a JWK Set (``{"keys": [...]}``)."""
        ...


def _check_jwks_shape(document: object, origin: str) -> Mapping[str, Any]:
    if not isinstance(document, Mapping):
        raise KeysUnavailable(f"{origin}: the JWKS is not a JSON object")
    keys = document.get("keys")
    if not isinstance(keys, list) or not all(isinstance(key, Mapping) for key in keys):
        raise KeysUnavailable(f"{origin}: the JWKS has no 'keys' list of objects")
    return document


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HttpJwksSource:
    """Fetches a JWKS over HTTPS (plain HTTP only to a loopback host, for development and tests).

    Uses `client` if given (the caller owns and closes it), else a short-lived client per fetch. Network
    errors, timeouts (`timeout` seconds for the whole request), non-200 answers, bodies over `max_bytes`
    and bodies that are not a JWKS raise `KeysUnavailable`. Redirects are not followed.
    """

    def __init__(
        self,
        url: str,
        client: httpx.AsyncClient | None = None,
        timeout: float = 5.0,
        *,
        max_bytes: int = 256 * 1024,
    ) -> None:
        parsed = httpx.URL(url)
        if parsed.scheme != "https" and not (parsed.scheme == "http" and _is_loopback(parsed.host)):
            raise ValueError("the JWKS URL must use https (plain http is allowed only to a loopback host)")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.url = url
        self._client = client
        self._timeout = timeout
        self._max_bytes = max_bytes

    def __repr__(self) -> str:
        return f"HttpJwksSource({self.url!r})"

    async def fetch(self) -> Mapping[str, Any]:
        """GET the JWKS and check its shape."""
        try:
            async with asyncio.timeout(self._timeout):
                if self._client is not None:
                    body = await self._get(self._client)
                else:
                    async with httpx.AsyncClient(timeout=self._timeout) as client:
                        body = await self._get(client)
        except TimeoutError as exc:
            raise KeysUnavailable(f"JWKS request to {self.url} timed out") from exc
        except httpx.HTTPError as exc:
            raise KeysUnavailable(f"JWKS request to {self.url} failed: {type(exc).__name__}") from exc
        try:
            document = json.loads(body)
        except ValueError as exc:  # includes UnicodeDecodeError
            raise KeysUnavailable(f"JWKS from {self.url} is not JSON") from exc
        return _check_jwks_shape(document, self.url)

    async def _get(self, client: httpx.AsyncClient) -> bytes:
        headers = {"Accept": "application/json"}
        async with client.stream(
            "GET", self.url, headers=headers, timeout=self._timeout, follow_redirects=False
        ) as response:
            if response.status_code != 200:
                raise KeysUnavailable(f"JWKS request to {self.url} answered HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self._max_bytes:
                    raise KeysUnavailable(f"JWKS from {self.url} is larger than {self._max_bytes} bytes")
            return bytes(body)


class StaticJwksSource:
    """A JWKS read from a callable, e.g. the in-process `KeyRing.jwks` in the single-process dev mode."""

    def __init__(self, jwks_provider: Callable[[], Mapping[str, Any]]) -> None:
        self._provider = jwks_provider

    async def fetch(self) -> Mapping[str, Any]:
        """Call the provider and check the shape of what it returns."""
        return _check_jwks_shape(self._provider(), "local key ring")


def _b64url_decode(segment: str) -> bytes:
    """Strict base64url (no padding, canonical); raises ValueError."""
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise ValueError("not base64url")
    try:
        decoded = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc
    if base64.urlsafe_b64encode(decoded).rstrip(b"=").decode("ascii") != segment:
        raise ValueError("non-canonical base64url")
    return decoded


def _rsa_key_from_jwk(jwk: Mapping[str, Any]) -> tuple[str, rsa.RSAPublicKey] | str:
    """Return ``(kid, key)`` for a usable RS256 verification key, else the reason it is skipped."""
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        return "no kid"
    if jwk.get("kty") != "RSA":
        return f"kid {kid!r}: not an RSA key"
    if jwk.get("alg", "RS256") != "RS256":
        return f"kid {kid!r}: alg is not RS256"
    if jwk.get("use", "sig") != "sig":
        return f"kid {kid!r}: use is not sig"
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return f"kid {kid!r}: key_ops does not allow verify"
    n_text, e_text = jwk.get("n"), jwk.get("e")
    if not isinstance(n_text, str) or not isinstance(e_text, str):
        return f"kid {kid!r}: missing n or e"
    try:
        n = int.from_bytes(_b64url_decode(n_text), "big")
        e = int.from_bytes(_b64url_decode(e_text), "big")
    except ValueError:
        return f"kid {kid!r}: n or e is not base64url"
    if not _MIN_RSA_BITS <= n.bit_length() <= _MAX_RSA_BITS:
        return f"kid {kid!r}: modulus size {n.bit_length()} bits is not accepted"
    if e < 3 or e % 2 == 0 or e.bit_length() > 256:
        return f"kid {kid!r}: bad public exponent"
    try:
        return kid, rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError:
        return f"kid {kid!r}: not a valid RSA public key"


def parse_jwks(jwks: Mapping[str, Any]) -> dict[str, rsa.RSAPublicKey]:
    """The usable RS256 keys of a JWK Set by kid; others are skipped with a log line.

    Raises `KeysUnavailable` if the set is malformed or has no usable key.
    """
    _check_jwks_shape(jwks, "JWKS")
    keys: dict[str, rsa.RSAPublicKey] = {}
    for jwk in jwks["keys"]:
        parsed = _rsa_key_from_jwk(jwk)
        if isinstance(parsed, str):
            logger.info("ignoring a JWKS entry: %s", parsed)
            continue
        kid, key = parsed
        if kid in keys:
            logger.warning("ignoring a duplicate JWKS entry for kid %r", kid)
            continue
        keys[kid] = key
    if not keys:
        raise KeysUnavailable("the JWKS has no usable RS256 signing key")
    return keys


class JwksCache:
    """The issuer's public keys by kid, fetched from a `JwksSource` on demand.

    * First use fetches. An unknown kid refetches, but fetches start at most once per
      `min_refetch_interval_seconds` (a flood of made-up kids costs at most one fetch per interval);
      concurrent callers share the fetch in flight.
    * Keys older than `cache_seconds` are refreshed on next use, so keys the issuer withdrew stop working.
    * A failed fetch keeps the last good keys (with a warning); with no keys at all, `KeysUnavailable`.
    """

    def __init__(
        self,
        source: JwksSource,
        *,
        cache_seconds: float = 3600,
        min_refetch_interval_seconds: float = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._cache_seconds = cache_seconds
        self._min_interval = min_refetch_interval_seconds
        self._clock = clock
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._loaded_at: float | None = None
        self._last_attempt: float | None = None
        self._inflight: asyncio.Task[None] | None = None
        self._generation = 0  # which fetch `_inflight` is, so a stale task never clears a newer one

    @property
    def kids(self) -> frozenset[str]:
        """The key ids currently cached."""
        return frozenset(self._keys)

    async def get_key(self, kid: str) -> rsa.RSAPublicKey:
        """The public key for `kid`; raises `UnknownKey` or `KeysUnavailable`."""
        if self._loaded_at is None:
            await self._fetch_if_allowed()
            if self._loaded_at is None:
                raise KeysUnavailable()
        elif self._clock() - self._loaded_at >= self._cache_seconds:
            await self._fetch_if_allowed()
        key = self._keys.get(kid)
        if key is None and await self._fetch_if_allowed():
            key = self._keys.get(kid)
        if key is None:
            raise UnknownKey()
        return key

    async def refresh(self) -> None:
        """Fetch now (or join the fetch in flight), ignoring the refetch interval."""
        await self._shared_fetch(force=True)

    async def aclose(self) -> None:
        """Cancel a fetch in flight (call on shutdown)."""
        task, self._inflight = self._inflight, None
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                # Only our own cancellation is expected here; re-raise if we were cancelled too.
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise

    async def _fetch_if_allowed(self) -> bool:
        """Join the fetch in flight or start one if the interval allows; False if neither happened."""
        return await self._shared_fetch(force=False)

    async def _shared_fetch(self, *, force: bool) -> bool:
        loop = asyncio.get_running_loop()
        task = self._inflight
        if task is not None and task.get_loop() is not loop:
            # Left over from another (closed) event loop, e.g. between test clients: never await it here.
            task = self._inflight = None
        if task is None:
            now = self._clock()
            if not force and self._last_attempt is not None and now - self._last_attempt < self._min_interval:
                return False
            self._last_attempt = now
            self._generation += 1
            task = self._inflight = loop.create_task(self._fetch(self._generation), name="jwks-fetch")
        # Shielded: a cancelled caller must not cancel the fetch other callers are waiting for.
        await asyncio.shield(task)
        return True

    async def _fetch(self, generation: int) -> None:
        try:
            keys = parse_jwks(await self._source.fetch())
        except KeysUnavailable as exc:
            if self._keys:
                logger.warning("JWKS refresh failed, keeping %d last good keys: %s", len(self._keys), exc)
            else:
                logger.warning("JWKS fetch failed and no keys are cached: %s", exc)
            return
        finally:
            if self._generation == generation:
                self._inflight = None
        added = keys.keys() - self._keys.keys()
        removed = self._keys.keys() - keys.keys()
        if added or removed:
            logger.info("JWKS loaded: %d keys (%d new, %d withdrawn)", len(keys), len(added), len(removed))
        self._keys = keys
        self._loaded_at = self._clock()


# --------------------------------------------------------------------------------------------------
# The verifier
# --------------------------------------------------------------------------------------------------


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate member name")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _json_object(data: bytes) -> dict[str, Any]:
    """Strict JSON object: no duplicate members, no NaN/Infinity; raises ValueError."""
    value = json.loads(data, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidClaims(f"The access token '{name}' claim is not a NumericDate.")
    return float(value)


def _optional_str(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidClaims(f"The access token '{name}' claim is not a string.")
    return value


def _canonical_uuid(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    scope = _optional_str(claims, "scope")
    return frozenset(scope.split()) if scope else frozenset()


class TokenVerifier:
    """Verifies access tokens of one issuer; see the module docstring for the rules.

    Build one per process (it owns the key cache) and call `aclose` on shutdown. `clock` returns the
    current Unix time (tests may pass their own).
    """

    def __init__(
        self,
        config: VerifierConfig,
        source: JwksSource,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.keys = JwksCache(
            source,
            cache_seconds=config.jwks_cache_seconds,
            min_refetch_interval_seconds=config.min_refetch_interval_seconds,
            clock=monotonic,
        )
        self._clock = clock
        self._jws = jwt.PyJWS(algorithms=["RS256"])

    async def aclose(self) -> None:
        """Cancel a key fetch in flight."""
        await self.keys.aclose()

    async def verify(self, token: str) -> Principal:
        """Return the principal of a valid access token; raise a `TokenError` subclass otherwise."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise MalformedToken()
        segments = token.split(".")
        if len(segments) != 3:
            raise MalformedToken("The access token is not a signed JWT (JWS compact serialization).")
        try:
            header = _json_object(_b64url_decode(segments[0]))
        except ValueError as exc:
            raise MalformedToken("The access token header is not valid base64url JSON.") from exc
        kid = self._check_header(header)
        key = await self.keys.get_key(kid)
        claims = self._verified_claims(token, key)
        self._check_times(claims)
        if claims.get("iss") != self.config.issuer:
            raise WrongIssuer()
        if claims.get("token_use") != "access":
            raise WrongTokenUse()
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise InvalidClaims("The access token has no subject ('sub').")
        client_id = claims.get("client_id")
        if not isinstance(client_id, str) or client_id not in self.config.client_ids:
            raise WrongAudience("The access token was issued for another client.")
        if self.config.mode == "local":
            return self._local_principal(claims, subject, client_id)
        return self._cognito_principal(claims, subject, client_id)

    def _check_header(self, header: Mapping[str, Any]) -> str:
        if header.get("alg") != "RS256":
            raise UnsupportedAlgorithm()
        for name in _KEY_REFERENCE_HEADERS:
            if name in header:
                raise ForbiddenHeader(
                    f"The access token header must not carry '{name}': keys are not taken from tokens."
                )
        for name in _EXTENSION_HEADERS:
            if name in header:
                raise ForbiddenHeader(f"The access token header must not carry '{name}'.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 256:
            raise MalformedToken("The access token header has no key id ('kid').")
        if self.config.mode == "local":
            typ = header.get("typ")
            if not isinstance(typ, str) or typ.lower() not in _ACCESS_TYPS:
                raise WrongTokenUse("The token is not an access token (its header type is not at+jwt).")
        return kid

    def _verified_claims(self, token: str, key: rsa.RSAPublicKey) -> dict[str, Any]:
        try:
            decoded = self._jws.decode_complete(token, key=key, algorithms=["RS256"])
        except jwt.InvalidSignatureError as exc:
            raise InvalidSignature() from exc
        except jwt.InvalidAlgorithmError as exc:
            raise UnsupportedAlgorithm() from exc
        except jwt.PyJWTError as exc:  # DecodeError and the rest: the token's encoding is broken
            raise MalformedToken() from exc
        try:
            return _json_object(decoded["payload"])
        except ValueError as exc:
            raise MalformedToken("The access token claims are not a JSON object.") from exc

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now = self._clock()
        leeway = self.config.leeway_seconds
        exp = _numeric_date(claims, "exp")
        if exp is None:
            raise InvalidClaims("The access token has no expiry ('exp').")
        if exp <= now - leeway:
            raise TokenExpired()
        nbf = _numeric_date(claims, "nbf")
        if nbf is not None and nbf > now + leeway:
            raise TokenNotYetValid()
        iat = _numeric_date(claims, "iat")
        if iat is not None and iat > now + leeway:
            raise TokenNotYetValid("The access token was issued in the future.")

    def _local_principal(self, claims: dict[str, Any], subject: str, client_id: str) -> Principal:
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience
        if not isinstance(audiences, list) or self.config.audience not in audiences:
            raise WrongAudience("The access token was issued for another audience.")
        tenant_id = _canonical_uuid(claims.get("tenant_id"))
        if tenant_id is None:
            raise MissingTenant()
        session = claims.get("sid")
        session_id = _canonical_uuid(session)
        if session is not None and session_id is None:
            raise InvalidClaims("The access token 'sid' claim is not a session id.")
        roles_claim = claims.get("roles", [])
        if not isinstance(roles_claim, list) or not all(role in KNOWN_ROLES for role in roles_claim):
            raise InvalidClaims("The access token 'roles' claim is not a list of known roles.")
        return Principal(
            subject=subject,
            tenant_id=tenant_id,
            roles=frozenset(roles_claim) or frozenset({ROLE_MEMBER}),
            client_id=client_id,
            scopes=_scopes(claims),
            expires_at=int(claims["exp"]),
            claims=MappingProxyType(claims),
            email=_optional_str(claims, "email"),
            tenant_slug=_optional_str(claims, "tenant"),
            session_id=session_id,
        )

    def _cognito_principal(self, claims: dict[str, Any], subject: str, client_id: str) -> Principal:
        groups = claims.get("cognito:groups", [])
        if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
            raise InvalidClaims("The access token 'cognito:groups' claim is not a list of strings.")
        tenant_groups = {group for group in groups if group.startswith(TENANT_GROUP_PREFIX)}
        if len(tenant_groups) != 1:
            raise MissingTenant()
        tenant_id = _canonical_uuid(tenant_groups.pop().removeprefix(TENANT_GROUP_PREFIX))
        if tenant_id is None:
            raise MissingTenant()
        roles = frozenset(
            role
            for group in groups
            if group.startswith(ROLE_GROUP_PREFIX) and (role := group.removeprefix(ROLE_GROUP_PREFIX)) in KNOWN_ROLES
        )
        return Principal(
            subject=subject,
            tenant_id=tenant_id,
            roles=roles or frozenset({ROLE_MEMBER}),
            client_id=client_id,
            scopes=_scopes(claims),
            expires_at=int(claims["exp"]),
            claims=MappingProxyType(claims),
            email=_optional_str(claims, "email"),
        )
