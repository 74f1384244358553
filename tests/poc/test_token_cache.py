"""The memo of verified tokens: hits skip the verifier, nothing outlives its TTL or the token's expiry."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

import pytest

from poc_api.token_cache import CachedVerifier
from runtime.auth import Principal, TokenError


def principal(expires_at: int) -> Principal:
    return Principal(
        subject="user",
        tenant_id="00000000-0000-0000-0000-000000000001",
        roles=frozenset({"member"}),
        client_id="pocdojo-app",
        scopes=frozenset(),
        expires_at=expires_at,
        claims=MappingProxyType({}),
    )


@dataclass
class FakeVerifier:
    expires_at: int = 10_000
    calls: list[str] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def verify(self, token: str) -> Principal:
        self.calls.append(token)
        if token in self.refuse:
            raise TokenError("refused")
        return principal(self.expires_at)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_verified_token_is_served_from_the_memo() -> None:
    inner, clock = FakeVerifier(), Clock()
    cached = CachedVerifier(inner, clock=clock)
    first = await cached.verify("a")
    assert await cached.verify("a") is first
    assert inner.calls == ["a"]
    await cached.verify("b")
    assert inner.calls == ["a", "b"]


async def test_entries_expire_with_the_ttl_and_the_token() -> None:
    inner, clock = FakeVerifier(expires_at=1_100), Clock()
    cached = CachedVerifier(inner, ttl_seconds=60, clock=clock)
    await cached.verify("a")
    clock.now += 59
    await cached.verify("a")
    assert len(inner.calls) == 1
    clock.now += 1  # 60 s after verification: verified again
    await cached.verify("a")
    assert len(inner.calls) == 2
    clock.now = 1_100  # the token's own expiry: never served from the memo at or after it
    await cached.verify("a")
    assert len(inner.calls) == 3


async def test_failures_are_not_remembered_and_the_memo_is_bounded() -> None:
    inner, clock = FakeVerifier(refuse={"bad"}), Clock()
    cached = CachedVerifier(inner, max_entries=2, clock=clock)
    for _ in range(2):
        with pytest.raises(TokenError):
            await cached.verify("bad")
    assert inner.calls == ["bad", "bad"] and len(cached) == 0
    for token in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" arrives
        await cached.verify(token)
    assert len(cached) == 2
    await cached.verify("a")
    await cached.verify("b")
    assert inner.calls[2:] == ["a", "b", "c", "b"]
