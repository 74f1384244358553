"""Token builders for tests: good local-mode access tokens, the bad-token corpus, Cognito-shaped tokens.

Usage (any service's HTTP tests)::

    spec = LocalTokenSpec(keyring, issuer=..., audience=..., client_id=..., tenant_id=...)
    good = spec.access_token()
    for name, token in bad_token_corpus(spec):
        ...  # expect 401; EXPECTED_ERRORS[name] is the verifier's error class (its .code)

Tokens are built from the current time (or `now=`) with a 5-minute lifetime: use them promptly.
Hand-crafted tokens (``alg: none``, HS256 keyed with the public key PEM, forged headers) are assembled
with base64/hmac because pyjwt rightly refuses to produce them.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256

from auth_tokens.verifier import (
    ForbiddenHeader,
    InvalidClaims,
    InvalidSignature,
    MalformedToken,
    MissingTenant,
    TokenError,
    TokenExpired,
    TokenNotYetValid,
    UnknownKey,
    UnsupportedAlgorithm,
    WrongAudience,
    WrongIssuer,
    WrongTokenUse,
)
from identity.keys import JWT_TYP_ACCESS, JWT_TYP_ID, KeyRing, SigningKey

__all__ = [
    "COGNITO_ACCESS_SCOPE",
    "EXPECTED_ERRORS",
    "LocalTokenSpec",
    "b64url",
    "bad_token_corpus",
    "cognito_access_claims",
    "cognito_id_claims",
    "compact_rs256",
    "foreign_signing_key",
    "hs256_token",
    "local_access_claims",
    "sign_cognito",
    "unsigned_token",
]

COGNITO_ACCESS_SCOPE = "aws.cognito.signin.user.admin"


def b64url(data: bytes | Mapping[str, Any]) -> str:
    """base64url without padding of bytes, or of a dict serialized as compact JSON."""
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def compact_rs256(private_key: rsa.RSAPrivateKey, header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    """An RS256 JWS with exactly `header` (whatever it says) signed by `private_key`."""
    signing_input = f"{b64url(header)}.{b64url(claims)}"
    signature = private_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), SHA256())
    return f"{signing_input}.{b64url(signature)}"


def unsigned_token(header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    """A JWS with an empty signature (e.g. ``alg: none``)."""
    return f"{b64url(header)}.{b64url(claims)}."


def hs256_token(secret: bytes, header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    """An HS256 JWS keyed with `secret` (the key-confusion attack uses the RSA public key PEM)."""
    signing_input = f"{b64url(header)}.{b64url(claims)}"
    tag = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(tag)}"


@functools.cache
def foreign_signing_key() -> SigningKey:
    """An RSA key nobody publishes (the attacker's), generated once per test session."""
    return SigningKey.generate()


def local_access_claims(
    *,
    issuer: str,
    audience: str,
    client_id: str,
    tenant_id: str,
    tenant_slug: str = "acme",
    subject: str | None = None,
    email: str = "ada@acme.example",
    roles: Sequence[str] = ("member",),
    scope: str = "pocdojo",
    now: int | None = None,
    lifetime: int = 300,
    session_id: str | None = None,
) -> dict[str, Any]:
    """The claims of one of our local-mode access tokens (the shape identity's token issuer produces);
    ``sid`` only when `session_id` is given."""
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject or str(uuid.uuid4()),
        "aud": audience,
        "client_id": client_id,
        "token_use": "access",
        "scope": scope,
        "tenant_id": tenant_id,
        "tenant": tenant_slug,
        "email": email,
        "roles": list(roles),
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
        "jti": uuid.uuid4().hex,
    }
    if session_id is not None:
        claims["sid"] = session_id
    return claims


@dataclass(frozen=True)
class LocalTokenSpec:
    """Everything needed to mint local-mode tokens for one user of one tenant."""

    keyring: KeyRing
    issuer: str
    audience: str
    client_id: str
    tenant_id: str
    tenant_slug: str = "acme"
    subject: str = "00000000-0000-4000-8000-000000000001"
    email: str = "ada@acme.example"
    roles: tuple[str, ...] = ("member",)
    scope: str = "pocdojo"
    lifetime: int = 300
    session_id: str | None = None
    """The sign-in (``sid``): services refuse local tokens whose account or sign-in they cannot find."""

    def claims(self, *, now: int | None = None, **overrides: Any) -> dict[str, Any]:
        """Good access-token claims; `overrides` replace (or, with value None, remove) claims."""
        claims = local_access_claims(
            issuer=self.issuer,
            audience=self.audience,
            client_id=self.client_id,
            tenant_id=self.tenant_id,
            tenant_slug=self.tenant_slug,
            subject=self.subject,
            email=self.email,
            roles=self.roles,
            scope=self.scope,
            now=now,
            lifetime=self.lifetime,
            session_id=self.session_id,
        )
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def access_token(self, *, now: int | None = None, **overrides: Any) -> str:
        """A good access token (typ at+jwt, signed by the ring's active key), with optional overrides."""
        return self.keyring.sign(self.claims(now=now, **overrides), typ=JWT_TYP_ACCESS)

    def with_(self, **changes: Any) -> LocalTokenSpec:
        """A copy with some fields changed (e.g. ``roles=("admin",)``)."""
        return replace(self, **changes)


EXPECTED_ERRORS: Mapping[str, type[TokenError]] = {
    "alg_none": UnsupportedAlgorithm,
    "alg_none_capitalized": UnsupportedAlgorithm,
    "hs256_with_public_key_pem": UnsupportedAlgorithm,
    "expired": TokenExpired,
    "not_yet_valid": TokenNotYetValid,
    "issued_in_future": TokenNotYetValid,
    "wrong_issuer": WrongIssuer,
    "id_token_as_access_token": WrongTokenUse,
    "id_token_use_with_access_typ": WrongTokenUse,
    "unknown_kid": UnknownKey,
    "missing_kid": MalformedToken,
    "tampered_signature": InvalidSignature,
    "tampered_payload": InvalidSignature,
    "stripped_signature": InvalidSignature,
    "foreign_client_id": WrongAudience,
    "wrong_audience": WrongAudience,
    "jku_header": ForbiddenHeader,
    "jwk_header": ForbiddenHeader,
    "x5u_header": ForbiddenHeader,
    "missing_exp": InvalidClaims,
    "missing_tenant": MissingTenant,
    "not_a_jwt": MalformedToken,
}
"""The verifier error class each corpus token must raise (exact class; compare `.code` over HTTP)."""


def bad_token_corpus(spec: LocalTokenSpec, *, now: int | None = None) -> list[tuple[str, str]]:
    """Tokens a local-mode verifier configured for `spec` must refuse, as ``(name, token)`` pairs.

    Each has exactly one defect; `EXPECTED_ERRORS[name]` says how it must be refused.
    """
    issued = int(time.time()) if now is None else now
    active = spec.keyring.active
    good = spec.claims(now=issued)
    header = {"alg": "RS256", "typ": JWT_TYP_ACCESS, "kid": active.kid}
    attacker = foreign_signing_key()
    public_pem = active.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def sign(claims: Mapping[str, Any], **header_changes: Any) -> str:
        return compact_rs256(active.private_key, {**header, **header_changes}, claims)

    good_token = sign(good)
    head, body, signature = good_token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    escalated = {**good, "roles": ["admin"]}
    id_claims = {**good, "token_use": "id", "aud": spec.client_id}
    id_claims.pop("client_id")
    id_claims.pop("scope")
    attacker_header = {"alg": "RS256", "typ": JWT_TYP_ACCESS, "kid": attacker.kid}

    corpus = [
        ("alg_none", unsigned_token({**header, "alg": "none"}, good)),
        ("alg_none_capitalized", unsigned_token({**header, "alg": "None"}, good)),
        ("hs256_with_public_key_pem", hs256_token(public_pem, {**header, "alg": "HS256"}, good)),
        ("expired", sign({**good, "iat": issued - 7200, "nbf": issued - 7200, "exp": issued - 3600})),
        ("not_yet_valid", sign({**good, "nbf": issued + 3600, "exp": issued + 7200})),
        ("issued_in_future", sign({k: v for k, v in {**good, "iat": issued + 3600}.items() if k != "nbf"})),
        ("wrong_issuer", sign({**good, "iss": "https://issuer.attacker.example"})),
        ("id_token_as_access_token", sign(id_claims, typ=JWT_TYP_ID)),
        ("id_token_use_with_access_typ", sign({**good, "token_use": "id"})),
        ("unknown_kid", compact_rs256(attacker.private_key, attacker_header, good)),
        ("missing_kid", compact_rs256(active.private_key, {"alg": "RS256", "typ": JWT_TYP_ACCESS}, good)),
        ("tampered_signature", f"{head}.{body}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"),
        ("tampered_payload", f"{head}.{b64url(escalated)}.{signature}"),
        ("stripped_signature", f"{head}.{body}."),
        ("foreign_client_id", sign({**good, "client_id": "someone-elses-client"})),
        ("wrong_audience", sign({**good, "aud": "https://another-api.example"})),
        (
            "jku_header",
            compact_rs256(
                attacker.private_key,
                {**attacker_header, "jku": "https://attacker.example/.well-known/jwks.json"},
                good,
            ),
        ),
        ("jwk_header", compact_rs256(attacker.private_key, {**attacker_header, "jwk": attacker.public_jwk()}, good)),
        (
            "x5u_header",
            compact_rs256(attacker.private_key, {**attacker_header, "x5u": "https://attacker.example/c"}, good),
        ),
        ("missing_exp", sign({k: v for k, v in good.items() if k != "exp"})),
        ("missing_tenant", sign({k: v for k, v in good.items() if k != "tenant_id"})),
        ("not_a_jwt", "not-a-token"),
    ]
    assert [name for name, _ in corpus] == list(EXPECTED_ERRORS)
    return corpus


def cognito_access_claims(
    *,
    issuer: str,
    client_id: str,
    groups: Sequence[str] = (),
    subject: str | None = None,
    username: str | None = None,
    scope: str = COGNITO_ACCESS_SCOPE,
    now: int | None = None,
    lifetime: int = 3600,
) -> dict[str, Any]:
    """Claims shaped like a Cognito user-pool access token (``client_id``, ``token_use``, no ``aud``)."""
    issued = int(time.time()) if now is None else now
    sub = subject or str(uuid.uuid4())
    claims: dict[str, Any] = {
        "sub": sub,
        "iss": issuer,
        "version": 2,
        "client_id": client_id,
        "origin_jti": str(uuid.uuid4()),
        "event_id": str(uuid.uuid4()),
        "token_use": "access",
        "scope": scope,
        "auth_time": issued,
        "exp": issued + lifetime,
        "iat": issued,
        "jti": str(uuid.uuid4()),
        "username": username or sub,
    }
    if groups:
        claims["cognito:groups"] = list(groups)
    return claims


def cognito_id_claims(
    *,
    issuer: str,
    client_id: str,
    groups: Sequence[str] = (),
    subject: str | None = None,
    email: str = "ada@acme.example",
    now: int | None = None,
    lifetime: int = 3600,
) -> dict[str, Any]:
    """Claims shaped like a Cognito ID token (``aud`` = client id, ``token_use: id``)."""
    issued = int(time.time()) if now is None else now
    sub = subject or str(uuid.uuid4())
    claims: dict[str, Any] = {
        "sub": sub,
        "email_verified": True,
        "iss": issuer,
        "cognito:username": sub,
        "origin_jti": str(uuid.uuid4()),
        "aud": client_id,
        "event_id": str(uuid.uuid4()),
        "token_use": "id",
        "auth_time": issued,
        "exp": issued + lifetime,
        "iat": issued,
        "jti": str(uuid.uuid4()),
        "email": email,
    }
    if groups:
        claims["cognito:groups"] = list(groups)
    return claims


def sign_cognito(key: SigningKey, claims: Mapping[str, Any], *, kid: str | None = None) -> str:
    """Sign like Cognito does: RS256, header ``{kid, alg}`` only; `kid` overrides the header's key id."""
    return jwt.encode(dict(claims), key.private_key, algorithm="RS256", headers={"kid": kid or key.kid, "typ": None})
