"""The token verifier: local mode against the in-process key ring, Cognito mode against a real JWKS server."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.hashes import SHA256

from auth_tokens.verifier import (
    HttpJwksSource,
    InvalidClaims,
    JwksCache,
    KeysUnavailable,
    MalformedToken,
    MissingTenant,
    StaticJwksSource,
    TokenError,
    TokenExpired,
    TokenNotYetValid,
    TokenVerifier,
    UnknownKey,
    VerifierConfig,
    WrongAudience,
    WrongIssuer,
    WrongTokenUse,
    cognito_issuer,
    parse_jwks,
)
from identity.keys import JWT_TYP_ID, KeyRing, SigningKey
from tests.conftest import wait_until
from tests.identity.tokens_corpus import (
    EXPECTED_ERRORS,
    LocalTokenSpec,
    b64url,
    bad_token_corpus,
    cognito_access_claims,
    cognito_id_claims,
    compact_rs256,
    sign_cognito,
)

LOCAL_ISSUER = "http://127.0.0.1:8000"
AUDIENCE = "pocdojo-api"
CLIENT_ID = "pocdojo-mobile"
TENANT_ID = "6f1c1a0e-4d5b-4c1e-9a0f-3b2d8e7c6a51"
COGNITO_ISSUER = cognito_issuer("sa-east-1", "sa-east-1_Dojo12345")
COGNITO_CLIENT = "4kq8example0client0id0abc"


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return KeyRing([SigningKey.generate()])


@pytest.fixture(scope="module")
def spec(ring: KeyRing) -> LocalTokenSpec:
    return LocalTokenSpec(ring, issuer=LOCAL_ISSUER, audience=AUDIENCE, client_id=CLIENT_ID, tenant_id=TENANT_ID)


def local_config(**changes: Any) -> VerifierConfig:
    settings: dict[str, Any] = {
        "mode": "local",
        "issuer": LOCAL_ISSUER,
        "client_ids": frozenset({CLIENT_ID}),
        "audience": AUDIENCE,
    }
    settings.update(changes)
    return VerifierConfig(**settings)


@pytest.fixture
async def verifier(ring: KeyRing) -> AsyncIterator[TokenVerifier]:
    verifier = TokenVerifier(local_config(), StaticJwksSource(ring.jwks))
    yield verifier
    await verifier.aclose()


async def refused(verifier: TokenVerifier, token: str) -> TokenError:
    with pytest.raises(TokenError) as info:
        await verifier.verify(token)
    return info.value


# ================================================================ local mode


async def test_good_local_token_is_accepted(verifier: TokenVerifier, spec: LocalTokenSpec) -> None:
    token = spec.with_(roles=("admin", "member"), scope="pocdojo reports:read").access_token()
    principal = await verifier.verify(token)
    assert principal.subject == spec.subject
    assert principal.tenant_id == TENANT_ID
    assert principal.tenant_slug == "acme"
    assert principal.roles == frozenset({"admin", "member"})
    assert principal.is_admin
    assert principal.client_id == CLIENT_ID
    assert principal.scopes == frozenset({"pocdojo", "reports:read"})
    assert principal.email == "ada@acme.example"
    assert principal.expires_at == principal.claims["exp"]
    with pytest.raises(TypeError):
        principal.claims["tenant_id"] = "other"  # type: ignore[index]


@pytest.fixture(scope="module")
def corpus(spec: LocalTokenSpec) -> dict[str, str]:
    return dict(bad_token_corpus(spec))


@pytest.mark.parametrize("name", list(EXPECTED_ERRORS))
async def test_corpus_token_is_refused_with_the_right_error(
    verifier: TokenVerifier, corpus: dict[str, str], name: str
) -> None:
    token = corpus[name]
    error = await refused(verifier, token)
    expected = EXPECTED_ERRORS[name]
    assert type(error) is expected, f"{name}: {type(error).__name__}: {error.detail}"
    assert error.code == expected.code
    assert error.status == 401
    for part in token.split("."):
        if len(part) > 8:
            assert part not in error.detail
            assert part not in str(error)


async def test_corpus_is_refused_without_trusting_header_keys(ring: KeyRing, corpus: dict[str, str]) -> None:
    """Tokens that carry key references never cause a fetch (the source is only the configured one)."""
    source = CountingSource(ring.jwks)
    verifier = TokenVerifier(local_config(), source)
    for name in ("jku_header", "jwk_header", "x5u_header", "alg_none", "hs256_with_public_key_pem"):
        await refused(verifier, corpus[name])
    assert source.fetches == 0


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt"])
async def test_access_typ_variants(verifier: TokenVerifier, ring: KeyRing, spec: LocalTokenSpec, typ: str) -> None:
    principal = await verifier.verify(ring.sign(spec.claims(), typ=typ))
    assert principal.subject == spec.subject


@pytest.mark.parametrize("typ", [None, "JWT", JWT_TYP_ID, "id+jwt"])
async def test_local_mode_requires_access_typ(
    verifier: TokenVerifier, ring: KeyRing, spec: LocalTokenSpec, typ: str | None
) -> None:
    assert type(await refused(verifier, ring.sign(spec.claims(), typ=typ))) is WrongTokenUse


NOW = 1_750_000_000


def fixed_clock_verifier(ring: KeyRing, leeway: int) -> TokenVerifier:
    return TokenVerifier(local_config(leeway_seconds=leeway), StaticJwksSource(ring.jwks), clock=lambda: NOW)


@pytest.mark.parametrize(
    ("leeway", "claims", "outcome"),
    [
        (30, {"exp": NOW + 1}, None),
        (0, {"exp": NOW}, TokenExpired),
        (30, {"exp": NOW - 10}, None),
        (30, {"exp": NOW - 29}, None),
        (30, {"exp": NOW - 30}, TokenExpired),
        (60, {"exp": NOW - 59}, None),
        (30, {"nbf": NOW + 20}, None),
        (30, {"nbf": NOW + 31}, TokenNotYetValid),
        (0, {"nbf": NOW + 1}, TokenNotYetValid),
        (30, {"iat": NOW + 25, "nbf": None}, None),
        (30, {"iat": NOW + 45, "nbf": None}, TokenNotYetValid),
        (30, {"nbf": None, "iat": None}, None),
    ],
)
async def test_leeway(
    ring: KeyRing, spec: LocalTokenSpec, leeway: int, claims: dict[str, Any], outcome: type[TokenError] | None
) -> None:
    verifier = fixed_clock_verifier(ring, leeway)
    token = spec.access_token(now=NOW - 60, **{"exp": NOW + 300, **claims})
    if outcome is None:
        assert (await verifier.verify(token)).subject == spec.subject
    else:
        assert type(await refused(verifier, token)) is outcome


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="leeway"):
        local_config(leeway_seconds=61)
    with pytest.raises(ValueError, match="leeway"):
        local_config(leeway_seconds=-1)
    assert local_config(leeway_seconds=60).leeway_seconds == 60
    with pytest.raises(ValueError, match="audience"):
        local_config(audience=None)
    with pytest.raises(ValueError, match="aud"):
        VerifierConfig(mode="cognito", issuer=COGNITO_ISSUER, client_ids=frozenset({"c"}), audience="x")
    with pytest.raises(TypeError):
        local_config(client_ids="pocdojo-mobile")
    with pytest.raises(ValueError, match="client"):
        local_config(client_ids=frozenset())
    with pytest.raises(ValueError, match="issuer"):
        local_config(issuer="")
    with pytest.raises(ValueError, match="mode"):
        local_config(mode="firebase")
    assert local_config(client_ids=["a", "b"]).client_ids == frozenset({"a", "b"})


@pytest.mark.parametrize(
    ("overrides", "outcome", "roles"),
    [
        ({"roles": None}, None, {"member"}),
        ({"roles": []}, None, {"member"}),
        ({"roles": ["admin"]}, None, {"admin"}),
        ({"roles": ["owner"]}, InvalidClaims, None),
        ({"roles": "admin"}, InvalidClaims, None),
        ({"tenant_id": "acme"}, MissingTenant, None),
        ({"tenant_id": 42}, MissingTenant, None),
        ({"tenant_id": TENANT_ID.upper()}, None, {"member"}),
        ({"sub": None}, InvalidClaims, None),
        ({"sub": ""}, InvalidClaims, None),
        ({"exp": "tomorrow"}, InvalidClaims, None),
        ({"exp": True}, InvalidClaims, None),
        ({"scope": ["a", "b"]}, InvalidClaims, None),
        ({"email": 7}, InvalidClaims, None),
        ({"aud": [AUDIENCE, "https://other.example"]}, None, {"member"}),
        ({"aud": None}, WrongAudience, None),
        ({"client_id": None}, WrongAudience, None),
        ({"token_use": None}, WrongTokenUse, None),
        ({"iss": LOCAL_ISSUER + "/"}, WrongIssuer, None),
        ({"iss": None}, WrongIssuer, None),
    ],
)
async def test_claim_rules(
    verifier: TokenVerifier,
    spec: LocalTokenSpec,
    overrides: dict[str, Any],
    outcome: type[TokenError] | None,
    roles: set[str] | None,
) -> None:
    token = spec.access_token(**overrides)
    if outcome is None:
        principal = await verifier.verify(token)
        assert set(principal.roles) == roles
        assert principal.tenant_id == TENANT_ID
    else:
        assert type(await refused(verifier, token)) is outcome


def sign_raw(key: SigningKey, header: Mapping[str, Any], payload: bytes) -> str:
    signing_input = f"{b64url(header)}.{b64url(payload)}"
    signature = key.private_key.sign(signing_input.encode(), padding.PKCS1v15(), SHA256())
    return f"{signing_input}.{b64url(signature)}"


async def test_structural_attacks(verifier: TokenVerifier, ring: KeyRing, spec: LocalTokenSpec) -> None:
    key = ring.active
    header = {"alg": "RS256", "typ": "at+jwt", "kid": key.kid}
    good = spec.claims()
    token = compact_rs256(key.private_key, header, good)
    # Duplicate header members ("alg" twice) are refused rather than resolved.
    duplicate = b64url(b'{"alg":"RS256","typ":"at+jwt","kid":"%s","alg":"none"}' % key.kid.encode())
    assert type(await refused(verifier, duplicate + token[token.index(".") :])) is MalformedToken
    # Correctly signed, but the claims are not a strict JSON object.
    nan_exp = json.dumps(good).replace(str(good["exp"]), "NaN").encode()
    duplicate_claims = json.dumps(good)[:-1].encode() + b', "tenant_id": "%s"}' % uuid.uuid4().hex.encode()
    for payload in (nan_exp, duplicate_claims, b"[1]", b"not json", b"\xff\xfe"):
        assert type(await refused(verifier, sign_raw(key, header, payload))) is MalformedToken
    # JWE (five segments), oversize, non-ASCII, padding, extension headers.
    assert type(await refused(verifier, "a.b.c.d.e")) is MalformedToken
    assert type(await refused(verifier, spec.access_token(pad="x" * 20_000))) is MalformedToken
    assert type(await refused(verifier, "é." + token)) is MalformedToken
    assert type(await refused(verifier, token.replace(".", "=.", 1))) is MalformedToken
    for extra in ({"crit": ["exp"]}, {"b64": False}):
        error = await refused(verifier, compact_rs256(key.private_key, {**header, **extra}, good))
        assert error.code == "forbidden_header"


async def test_fuzzed_tokens_only_raise_token_errors(verifier: TokenVerifier, spec: LocalTokenSpec) -> None:
    rng = random.Random(20240611)
    good = spec.access_token()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ {}\"'\\\x00é"
    accepted = 0
    for _ in range(3000):
        chars = list(good)
        for _ in range(rng.randint(1, 4)):
            operation = rng.random()
            position = rng.randrange(len(chars))
            if operation < 0.5:
                chars[position] = rng.choice(alphabet)
            elif operation < 0.75:
                del chars[position:]
            else:
                chars.insert(position, rng.choice(alphabet))
        try:
            await verifier.verify("".join(chars))
        except TokenError:
            continue  # refused, as a mutated token should be
        accepted += 1
    # A mutation in the ignored padding bits of a segment is the only way to stay valid; never many.
    assert accepted < 30


async def test_static_source_follows_in_process_rotation(tmp_path: Any) -> None:
    current = {"ring": KeyRing.load_or_create(tmp_path)}
    verifier = TokenVerifier(
        local_config(min_refetch_interval_seconds=0), StaticJwksSource(lambda: current["ring"].jwks())
    )
    spec = LocalTokenSpec(
        current["ring"], issuer=LOCAL_ISSUER, audience=AUDIENCE, client_id=CLIENT_ID, tenant_id=TENANT_ID
    )
    old_token = spec.access_token()
    await verifier.verify(old_token)
    current["ring"] = KeyRing.rotate(tmp_path)
    new_token = spec.with_(keyring=current["ring"]).access_token()
    await verifier.verify(new_token)
    await verifier.verify(old_token)  # the old key is still published
    await verifier.aclose()


async def test_static_source_with_bad_shape_is_keys_unavailable() -> None:
    with pytest.raises(KeysUnavailable):
        await StaticJwksSource(lambda: {"not_keys": []}).fetch()
    verifier = TokenVerifier(local_config(), StaticJwksSource(lambda: {"keys": []}))
    spec_ring = KeyRing([SigningKey.generate()])
    token = LocalTokenSpec(spec_ring, LOCAL_ISSUER, AUDIENCE, CLIENT_ID, TENANT_ID).access_token()
    error = await refused(verifier, token)
    assert type(error) is KeysUnavailable
    assert (error.code, error.status) == ("keys_unavailable", 503)


def test_parse_jwks_keeps_only_rs256_signature_keys(ring: KeyRing) -> None:
    good = ring.jwks()["keys"][0]
    small = {**good, "kid": "small", "n": b64url((2**1023 + 1).to_bytes(128, "big"))}
    jwks = {
        "keys": [
            good,
            {**good, "kid": "enc", "use": "enc"},
            {**good, "kid": "ps", "alg": "PS256"},
            {**good, "kid": "hs", "kty": "oct", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            {**good, "kid": "no-alg-no-use", "alg": None, "use": None},
            {k: v for k, v in good.items() if k not in ("alg", "use")} | {"kid": "bare"},
            {**good, "kid": "ops", "key_ops": ["encrypt"]},
            {**good, "kid": "broken", "n": "!!"},
            small,
            {k: v for k, v in good.items() if k != "kid"},
        ]
    }
    assert set(parse_jwks(jwks)) == {good["kid"], "bare"}
    with pytest.raises(KeysUnavailable):
        parse_jwks({"keys": [{**good, "use": "enc"}]})


# ================================================================ the key cache (fake sources)


class CountingSource:
    """A JWKS source that counts fetches; it can fail, or wait on a gate."""

    def __init__(self, jwks: Callable[[], Mapping[str, Any]]) -> None:
        self.jwks = jwks
        self.fetches = 0
        self.fail = False
        self.gate: asyncio.Event | None = None

    async def fetch(self) -> Mapping[str, Any]:
        self.fetches += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise KeysUnavailable("issuer down (test)")
        return self.jwks()


async def test_cache_does_not_hammer_a_down_issuer(ring: KeyRing) -> None:
    source = CountingSource(ring.jwks)
    source.fail = True
    cache = JwksCache(source, min_refetch_interval_seconds=30)
    for _ in range(50):
        with pytest.raises(KeysUnavailable) as info:
            await cache.get_key(ring.active.kid)
        assert "issuer down" not in info.value.detail  # internal reasons go to the log, not the client
    assert source.fetches == 1


async def test_cache_recovers_after_the_interval_and_refresh_forces_a_fetch(ring: KeyRing) -> None:
    now = [1000.0]
    source = CountingSource(ring.jwks)
    source.fail = True
    cache = JwksCache(source, cache_seconds=3600, min_refetch_interval_seconds=30, clock=lambda: now[0])
    with pytest.raises(KeysUnavailable):
        await cache.get_key(ring.active.kid)
    source.fail = False
    now[0] += 29
    with pytest.raises(KeysUnavailable):
        await cache.get_key(ring.active.kid)
    assert source.fetches == 1
    now[0] += 1
    assert await cache.get_key(ring.active.kid) is not None
    assert source.fetches == 2
    assert cache.kids == {ring.active.kid}
    await cache.refresh()  # ignores the interval
    assert source.fetches == 3
    now[0] += 3600  # stale: the next use refreshes once
    await cache.get_key(ring.active.kid)
    await cache.get_key(ring.active.kid)
    assert source.fetches == 4


def _fetching(source: CountingSource) -> Callable[[], Awaitable[bool]]:
    async def started() -> bool:
        return source.fetches == 1

    return started


async def test_cancelled_waiter_does_not_cancel_the_shared_fetch(ring: KeyRing) -> None:
    source = CountingSource(ring.jwks)
    source.gate = asyncio.Event()
    cache = JwksCache(source)
    first = asyncio.create_task(cache.get_key(ring.active.kid))
    second = asyncio.create_task(cache.get_key(ring.active.kid))
    await wait_until(_fetching(source))  # both waiters are on the one fetch
    first.cancel()
    source.gate.set()
    assert await second is not None
    with pytest.raises(asyncio.CancelledError):
        await first
    assert source.fetches == 1


async def test_cache_aclose_cancels_fetch_in_flight(ring: KeyRing) -> None:
    source = CountingSource(ring.jwks)
    source.gate = asyncio.Event()
    cache = JwksCache(source)
    waiter = asyncio.create_task(cache.get_key(ring.active.kid))
    await wait_until(_fetching(source))
    await cache.aclose()
    with pytest.raises(asyncio.CancelledError):
        await waiter


# ================================================================ Cognito mode against a real JWKS server


class JwksServer:
    """A real HTTP server (uvicorn on 127.0.0.1, free port) serving a JWKS and counting fetches."""

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.fetches = 0
        self.status = 200
        self.body: bytes | None = None
        self.delay = 0.0
        self.headers: list[tuple[bytes, bytes]] = []
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/.well-known/jwks.json"

    def publish(self, *keys: SigningKey) -> None:
        self.jwks = KeyRing(list(keys)).jwks()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        if scope["path"] != "/.well-known/jwks.json":
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        self.fetches += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        body = self.body if self.body is not None else json.dumps(self.jwks).encode()
        headers = [(b"content-type", b"application/json"), *self.headers]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self, lifespan="off", ws="none", http="h11", log_config=None, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        task, server = self._task, self._server

        async def started() -> bool:
            assert not task.done(), "the JWKS server did not start"
            return server.started

        await wait_until(started, within=10)

    async def stop(self) -> None:
        assert self._server is not None
        assert self._task is not None
        self._server.should_exit = True
        await self._task


@pytest.fixture(scope="module")
def cognito_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
async def jwks_server(cognito_key: SigningKey) -> AsyncIterator[JwksServer]:
    server = JwksServer()
    server.publish(cognito_key)
    await server.start()
    yield server
    if server._task is not None and not server._task.done():
        await server.stop()


class FakeMonotonic:
    """A monotonic clock the test advances by hand (the key cache's notion of time)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def cognito_verifier(
    server: JwksServer, *, monotonic: Callable[[], float] = time.monotonic, **changes: Any
) -> TokenVerifier:
    settings: dict[str, Any] = {
        "mode": "cognito",
        "issuer": COGNITO_ISSUER,
        "client_ids": frozenset({COGNITO_CLIENT}),
    }
    settings.update(changes)
    return TokenVerifier(VerifierConfig(**settings), HttpJwksSource(server.url), monotonic=monotonic)


def cognito_token(key: SigningKey, groups: tuple[str, ...] = (f"tenant:{TENANT_ID}",), /, **changes: Any) -> str:
    claims = cognito_access_claims(issuer=COGNITO_ISSUER, client_id=COGNITO_CLIENT, groups=groups)
    claims.update(changes)
    return sign_cognito(key, claims)


async def test_cognito_access_token_accepted_with_tenant_from_group(
    jwks_server: JwksServer, cognito_key: SigningKey
) -> None:
    verifier = cognito_verifier(jwks_server)
    token = cognito_token(cognito_key, (f"tenant:{TENANT_ID}", "role:admin", "beta-testers"))
    principal = await verifier.verify(token)
    assert principal.tenant_id == TENANT_ID
    assert principal.roles == frozenset({"admin"})
    assert principal.client_id == COGNITO_CLIENT
    assert principal.scopes == frozenset({"aws.cognito.signin.user.admin"})
    assert principal.email is None
    assert principal.tenant_slug is None
    assert "aud" not in principal.claims
    member = await verifier.verify(cognito_token(cognito_key))
    assert member.roles == frozenset({"member"})
    assert jwks_server.fetches == 1
    await verifier.aclose()


async def test_cognito_tokens_refused(jwks_server: JwksServer, cognito_key: SigningKey) -> None:
    verifier = cognito_verifier(jwks_server)
    id_token = sign_cognito(
        cognito_key, cognito_id_claims(issuer=COGNITO_ISSUER, client_id=COGNITO_CLIENT, groups=[f"tenant:{TENANT_ID}"])
    )
    other_tenant = "0b7f5e52-9a53-4b43-8f0e-2f2f7d0c8c11"
    cases: list[tuple[str, type[TokenError]]] = [
        (id_token, WrongTokenUse),
        (cognito_token(cognito_key, ()), MissingTenant),
        (cognito_token(cognito_key, ("role:admin",)), MissingTenant),
        # A user-writable attribute never grants a tenant.
        (cognito_token(cognito_key, (), **{"custom:tenant_id": TENANT_ID}), MissingTenant),
        (cognito_token(cognito_key, (f"tenant:{TENANT_ID}", f"tenant:{other_tenant}")), MissingTenant),
        (cognito_token(cognito_key, ("tenant:acme",)), MissingTenant),
        (cognito_token(cognito_key, client_id="another-app-client"), WrongAudience),
        (cognito_token(cognito_key, iss=cognito_issuer("sa-east-1", "sa-east-1_Other")), WrongIssuer),
        (cognito_token(cognito_key, **{"cognito:groups": "tenant:" + TENANT_ID}), InvalidClaims),
        (cognito_token(cognito_key, exp=int(time.time()) - 120), TokenExpired),
    ]
    for token, expected in cases:
        assert type(await refused(verifier, token)) is expected
    assert jwks_server.fetches == 1
    await verifier.aclose()


def unknown_kid_tokens(key: SigningKey, count: int) -> list[str]:
    claims = cognito_access_claims(issuer=COGNITO_ISSUER, client_id=COGNITO_CLIENT, groups=[f"tenant:{TENANT_ID}"])
    return [sign_cognito(key, claims, kid=f"unknown-{i}-{uuid.uuid4().hex}") for i in range(count)]


@pytest.fixture(scope="module")
def thousand_unknown(cognito_key: SigningKey) -> list[str]:
    return unknown_kid_tokens(cognito_key, 1000)


async def test_thousand_unknown_kids_concurrently_cost_at_most_two_fetches(
    jwks_server: JwksServer, cognito_key: SigningKey, thousand_unknown: list[str]
) -> None:
    jwks_server.delay = 0.05
    verifier = cognito_verifier(jwks_server)
    results = await asyncio.gather(*(verifier.verify(t) for t in thousand_unknown), return_exceptions=True)
    assert all(type(result) is UnknownKey for result in results)
    assert 1 <= jwks_server.fetches <= 2
    # Known keys still work right after the flood, without another fetch.
    assert (await verifier.verify(cognito_token(cognito_key))).tenant_id == TENANT_ID
    assert jwks_server.fetches <= 2
    await verifier.aclose()


async def test_thousand_unknown_kids_sequentially_cost_at_most_two_fetches(
    jwks_server: JwksServer, cognito_key: SigningKey, thousand_unknown: list[str]
) -> None:
    verifier = cognito_verifier(jwks_server)
    assert (await verifier.verify(cognito_token(cognito_key))).tenant_id == TENANT_ID
    for token in thousand_unknown:
        assert type(await refused(verifier, token)) is UnknownKey
    assert 1 <= jwks_server.fetches <= 2
    await verifier.aclose()


async def test_last_good_keys_are_kept_when_the_issuer_goes_down(
    jwks_server: JwksServer, cognito_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeMonotonic()
    verifier = cognito_verifier(jwks_server, monotonic=clock, jwks_cache_seconds=60, min_refetch_interval_seconds=0)
    token = cognito_token(cognito_key)
    await verifier.verify(token)
    assert jwks_server.fetches == 1
    await jwks_server.stop()
    clock.advance(61)  # the cached keys are now stale: every use tries to refresh (interval 0)
    with caplog.at_level(logging.WARNING, logger="auth_tokens.verifier"):
        assert (await verifier.verify(token)).tenant_id == TENANT_ID
        assert (await verifier.verify(cognito_token(cognito_key))).tenant_id == TENANT_ID
        assert type(await refused(verifier, unknown_kid_tokens(cognito_key, 1)[0])) is UnknownKey
    warnings = [r for r in caplog.records if r.name == "auth_tokens.verifier" and r.levelno == logging.WARNING]
    assert warnings
    assert all("keeping 1 last good keys" in r.getMessage() for r in warnings)
    assert all(token not in r.getMessage() for r in warnings)
    await verifier.aclose()


async def test_keys_unavailable_when_the_issuer_was_never_reached(
    jwks_server: JwksServer, cognito_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    await jwks_server.stop()
    verifier = cognito_verifier(jwks_server)
    with caplog.at_level(logging.WARNING, logger="auth_tokens.verifier"):
        error = await refused(verifier, cognito_token(cognito_key))
    assert type(error) is KeysUnavailable
    assert error.status == 503
    assert "ConnectError" in caplog.text
    await verifier.aclose()


async def test_rotated_key_is_picked_up_after_the_refetch_interval(
    jwks_server: JwksServer, cognito_key: SigningKey
) -> None:
    clock = FakeMonotonic()
    verifier = cognito_verifier(jwks_server, monotonic=clock, min_refetch_interval_seconds=30)
    await verifier.verify(cognito_token(cognito_key))
    new_key = SigningKey.generate()
    jwks_server.publish(new_key, cognito_key)
    rotated = cognito_token(new_key)
    # Within the interval, an unknown kid does not refetch.
    assert type(await refused(verifier, rotated)) is UnknownKey
    assert jwks_server.fetches == 1
    clock.advance(29)
    assert type(await refused(verifier, rotated)) is UnknownKey
    assert jwks_server.fetches == 1
    clock.advance(1)
    assert (await verifier.verify(rotated)).tenant_id == TENANT_ID
    assert jwks_server.fetches == 2
    assert (await verifier.verify(cognito_token(cognito_key))).tenant_id == TENANT_ID
    assert jwks_server.fetches == 2
    await verifier.aclose()


async def test_withdrawn_key_stops_verifying_after_the_cache_expires(
    jwks_server: JwksServer, cognito_key: SigningKey
) -> None:
    clock = FakeMonotonic()
    verifier = cognito_verifier(jwks_server, monotonic=clock, jwks_cache_seconds=3600, min_refetch_interval_seconds=30)
    token = cognito_token(cognito_key)
    await verifier.verify(token)
    jwks_server.publish(SigningKey.generate())
    await verifier.verify(token)  # still cached
    clock.advance(3599)
    await verifier.verify(token)  # still cached
    clock.advance(1)
    assert type(await refused(verifier, token)) is UnknownKey
    assert jwks_server.fetches == 2
    await verifier.aclose()


# ================================================================ HttpJwksSource


async def test_http_source_errors_are_keys_unavailable(jwks_server: JwksServer) -> None:
    source = HttpJwksSource(jwks_server.url, timeout=0.5, max_bytes=10_000)
    assert "keys" in await source.fetch()
    for status, body, headers, match in [
        (500, None, [], "HTTP 500"),
        (200, b"<html>not json</html>", [], "not JSON"),
        (200, b'{"keys": "none"}', [], "'keys' list"),
        (200, b"[1, 2]", [], "not a JSON object"),
        (200, b'{"keys": []}' + b" " * 20_000, [], "larger than"),
        (302, b"", [(b"location", b"https://attacker.example/jwks.json")], "HTTP 302"),
    ]:
        jwks_server.status, jwks_server.body, jwks_server.headers = status, body, headers
        with pytest.raises(KeysUnavailable, match=match):
            await source.fetch()
    jwks_server.status, jwks_server.body, jwks_server.headers = 200, None, []
    jwks_server.delay = 1.0
    with pytest.raises(KeysUnavailable, match="timed out"):
        await source.fetch()


async def test_http_source_with_a_shared_client(jwks_server: JwksServer) -> None:
    async with httpx.AsyncClient() as client:
        source = HttpJwksSource(jwks_server.url, client=client)
        for _ in range(3):
            assert len((await source.fetch())["keys"]) == 1
    assert jwks_server.fetches == 3


def test_http_source_requires_https_except_loopback() -> None:
    with pytest.raises(ValueError, match="https"):
        HttpJwksSource("http://cognito-idp.sa-east-1.amazonaws.com/pool/.well-known/jwks.json")
    HttpJwksSource("https://cognito-idp.sa-east-1.amazonaws.com/pool/.well-known/jwks.json")
    HttpJwksSource("http://localhost:8000/.well-known/jwks.json")
    HttpJwksSource("http://[::1]:8000/.well-known/jwks.json")
