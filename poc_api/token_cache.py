"""A short-lived memo of verified access tokens, in front of the runtime's token verifier.

A mobile client sends the same access token with every request for up to its lifetime (15 minutes by
default), and verifying it (RS256 signature, claims) is the largest fixed cost of a search request.
`CachedVerifier` remembers the principal of a token it verified, keyed by the exact token text (the
same bytes carry the same signature, so nothing weaker than the original check is trusted), for at
most `ttl_seconds` and never past the token's own `exp` — no leeway on a hit: a token whose expiry is
near is sent back to the full verifier, which applies the configured leeway itself. The memo is
bounded (least recently used entries go first) and per process. Failures are never cached. The
wrapped verifier keeps its own lifecycle (the runtime closes it at shutdown).

What a memo cannot see: a signing key withdrawn from the issuer's JWKS stops verifying *new* tokens at
once, but tokens already verified keep working for at most `ttl_seconds` more.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from runtime.auth import Principal


class Verifier(Protocol):
    async def verify(self, token: str) -> Principal: ...


class CachedVerifier:
    """Wraps a verifier (`runtime.auth.TokenVerifier`): same `verify` contract, fewer signature checks."""

    def __init__(
        self,
        inner: Verifier,
        *,
        max_entries: int = 4096,
        ttl_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
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
