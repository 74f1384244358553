"""`runtime.auth.VerifiedTokens`: the memo of verified tokens, in front of a real `TokenVerifier`.

What a hit skips is observable: once the issuer withdraws its signing key, the full verifier refuses
the token, while the memo still serves it — for at most its TTL, never at or past the token's `exp`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from auth_tokens.verifier import StaticJwksSource, TokenError, TokenExpired, UnknownKey, VerifierConfig
from identity.keys import KeyRing, SigningKey
from runtime.auth import TokenVerifier, VerifiedTokens
from tests.identity.tokens_corpus import LocalTokenSpec

ISSUER = "http://127.0.0.1:8000"
AUDIENCE = "pocdojo-api"
CLIENT_ID = "pocdojo-mobile"
TENANT_ID = "6f1c1a0e-4d5b-4c1e-9a0f-3b2d8e7c6a51"


@dataclass
class Clock:
    now: float = field(default_factory=lambda: float(int(time.time())))

    def __call__(self) -> float:
        return self.now


@dataclass
class Issuer:
    """The issuer's published keys; `withdraw` replaces them with a new key."""

    ring: KeyRing

    def jwks(self) -> Mapping[str, Any]:
        return self.ring.jwks()

    def withdraw(self) -> None:
        self.ring = KeyRing([SigningKey.generate()])


@dataclass
class Setup:
    issuer: Issuer
    spec: LocalTokenSpec
    clock: Clock
    monotonic: Clock
    verifier: TokenVerifier

    def token(self, n: int = 0, lifetime: int = 900) -> str:
        spec = LocalTokenSpec(
            self.spec.keyring,
            issuer=ISSUER,
            audience=AUDIENCE,
            client_id=CLIENT_ID,
            tenant_id=TENANT_ID,
            subject=f"00000000-0000-4000-8000-{n:012d}",
            lifetime=lifetime,
        )
        return spec.access_token(now=int(self.clock.now))

    def withdraw_key(self) -> None:
        """The issuer drops its key, and the verifier's key cache has expired: new checks fail."""
        self.issuer.withdraw()
        self.monotonic.now += 4000  # past the JWKS cache (3600 s)


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    ring = KeyRing([SigningKey.generate()])
    issuer = Issuer(ring)
    clock, monotonic = Clock(), Clock()
    config = VerifierConfig(mode="local", issuer=ISSUER, client_ids=frozenset({CLIENT_ID}), audience=AUDIENCE)
    verifier = TokenVerifier(config, StaticJwksSource(issuer.jwks), clock=clock, monotonic=monotonic)
    spec = LocalTokenSpec(ring, issuer=ISSUER, audience=AUDIENCE, client_id=CLIENT_ID, tenant_id=TENANT_ID)
    yield Setup(issuer, spec, clock, monotonic, verifier)
    await verifier.aclose()


async def test_a_hit_is_served_for_at_most_the_ttl(setup: Setup) -> None:
    memo = VerifiedTokens(setup.verifier, ttl_seconds=60, clock=setup.clock)
    token = setup.token()
    first = await memo.verify(token)
    assert first.tenant_id == TENANT_ID and len(memo) == 1
    setup.withdraw_key()
    with pytest.raises(UnknownKey):
        await setup.verifier.verify(token)  # the full check now refuses it...
    setup.clock.now += 59
    assert await memo.verify(token) is first  # ...the memo still serves it within its TTL
    setup.clock.now += 1
    with pytest.raises(UnknownKey):
        await memo.verify(token)  # 60 s after verification: checked again, and refused
    assert len(memo) == 0


async def test_never_at_or_past_the_tokens_expiry(setup: Setup) -> None:
    memo = VerifiedTokens(setup.verifier, ttl_seconds=60, clock=setup.clock)
    token = setup.token(lifetime=30)
    await memo.verify(token)
    setup.clock.now += 29
    await memo.verify(token)  # still memoized (the full check would also pass)
    setup.clock.now += 1  # at exp: the full verifier decides, with its own leeway
    assert (await memo.verify(token)).subject
    setup.clock.now += 31  # past exp + leeway
    with pytest.raises(TokenExpired):
        await memo.verify(token)
    # A near-expiry hit with the key withdrawn goes to the full verifier too (no leeway on hits).
    fresh = setup.token(1, lifetime=20)
    await memo.verify(fresh)
    setup.withdraw_key()
    setup.clock.now += 20
    with pytest.raises(UnknownKey):
        await memo.verify(fresh)


async def test_failures_are_not_remembered(setup: Setup) -> None:
    memo = VerifiedTokens(setup.verifier, clock=setup.clock)
    good = setup.token()
    header, payload, signature = good.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    for _ in range(2):
        with pytest.raises(TokenError):
            await memo.verify(forged)
        with pytest.raises(TokenError):
            await memo.verify("not-a-token")
    assert len(memo) == 0
    await memo.verify(good)
    assert len(memo) == 1


async def test_the_memo_is_bounded_least_recently_used_first(setup: Setup) -> None:
    memo = VerifiedTokens(setup.verifier, max_entries=2, clock=setup.clock)
    a, b, c = (setup.token(n) for n in range(3))
    for token in (a, b, a, c):  # "b" is the least recently used when "c" arrives
        await memo.verify(token)
    assert len(memo) == 2
    setup.withdraw_key()
    assert (await memo.verify(a)).subject.endswith("0")
    assert (await memo.verify(c)).subject.endswith("2")
    with pytest.raises(UnknownKey):
        await memo.verify(b)  # evicted: checked again, and refused


def test_bad_limits_are_refused(setup: Setup) -> None:
    with pytest.raises(ValueError, match="max_entries"):
        VerifiedTokens(setup.verifier, max_entries=0)
    with pytest.raises(ValueError, match="ttl_seconds"):
        VerifiedTokens(setup.verifier, ttl_seconds=0)
