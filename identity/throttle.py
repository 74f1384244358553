"""Brute-force and abuse limits, shared by every node through PostgreSQL.

Counters are rows of `identity.login_throttle`, each over a sliding window. An attempt *takes* its
place in every counter it is subject to with one atomic upsert per counter, in a transaction that
commits before the costly work (the password check) starts: concurrent attempts queue on the row
lock, so 40 parallel guesses cannot all read "4 failures so far" and all go on to check a password.
The attempt that reaches the limit sets the block for the next ones, which get 429 with Retry-After
without touching anything; the block doubles with each attempt let through after it (30 s ... 15 min).

Password grant, two counters per attempt:
- (account, client address): a handful of attempts, then blocked with exponential backoff;
- (client address): many attempts across accounts (credential stuffing), then blocked.
A successful sign-in gives its places back (the account counter is cleared, the address counter
decremented), so only failures accumulate. There is deliberately no account-wide lock: an attacker
elsewhere cannot lock the real user out, whose own address has its own counters (ASVS 5 "no malicious
lockout").

Registration: one counter per client address, every attempt counts (each costs a password hash and
probes the directory).

Keys are SHA-256 digests, so the table holds no e-mail address or IP in clear.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from runtime.db import Connection
from runtime.errors import TooManyRequests

MAX_BLOCK_SECONDS = 900

Clock = Callable[[], datetime]
"""What time it is for the throttle; None (the default) is PostgreSQL's `now()`, one clock for every node."""


# One attempt takes its place in the counter `$1` (limit `$2`, window `$3` s, longest block `$4` s) unless a
# block is running. "Now" is the clock's time `$5`, or the database's when there is no clock; in the update
# it is the time the attempt would have been inserted with (`excluded.window_start`).
# `ON CONFLICT DO UPDATE` locks the row, so concurrent attempts at one key are counted one at a time.
_TAKE = """
INSERT INTO identity.login_throttle AS t (key, failures, window_start, blocked_until)
SELECT $1, 1, clock.now, CASE WHEN 1 >= $2 THEN clock.now + make_interval(secs => 30) END
FROM (SELECT coalesce($5::timestamptz, now()) AS now) AS clock
ON CONFLICT (key) DO UPDATE SET
    failures = CASE WHEN t.window_start < excluded.window_start - make_interval(secs => $3)
        THEN 1 ELSE t.failures + 1 END,
    window_start = CASE WHEN t.window_start < excluded.window_start - make_interval(secs => $3)
        THEN excluded.window_start ELSE t.window_start END,
    blocked_until = CASE
        WHEN (CASE WHEN t.window_start < excluded.window_start - make_interval(secs => $3)
            THEN 1 ELSE t.failures + 1 END) >= $2
        THEN excluded.window_start + make_interval(secs => least($4::float8, 30 * power(2,
            (CASE WHEN t.window_start < excluded.window_start - make_interval(secs => $3)
                THEN 1 ELSE t.failures + 1 END) - $2)))
    END
WHERE t.blocked_until IS NULL OR t.blocked_until <= excluded.window_start
RETURNING failures
"""
_BLOCKED_FOR = """
SELECT extract(epoch FROM blocked_until - coalesce($2::timestamptz, now())) FROM identity.login_throttle WHERE key = $1
"""


@dataclass(frozen=True)
class ThrottleLimits:
    per_account_address: int
    per_address: int
    window_seconds: int


def _key(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


async def _take(
    conn: Connection,
    counters: Sequence[tuple[bytes, int]],
    window_seconds: int,
    message: str,
    clock: Clock | None,
) -> None:
    """Take one place in every counter, or raise TooManyRequests (taking none: the caller's transaction
    rolls back) if any of them is blocked now."""
    now = None if clock is None else clock()
    for key, limit in counters:
        taken = await conn.fetchval(_TAKE, key, limit, float(window_seconds), float(MAX_BLOCK_SECONDS), now)
        if taken is None:
            wait = await conn.fetchval(_BLOCKED_FOR, key, now)
            raise TooManyRequests(message, retry_after=math.ceil(float(wait or 1)))


@dataclass(frozen=True)
class LoginThrottle:
    limits: ThrottleLimits
    clock: Clock | None = None

    def keys(self, tenant_id: str, email: str, address: str) -> tuple[bytes, bytes]:
        return _key("acct-ip", tenant_id, email, address), _key("ip", address)

    async def take(self, conn: Connection, keys: tuple[bytes, bytes]) -> None:
        """Count this sign-in attempt before its password is checked; TooManyRequests when blocked.
        Commit `conn`'s transaction before checking the password, so that other attempts see the count."""
        await _take(
            conn,
            tuple(zip(keys, (self.limits.per_account_address, self.limits.per_address), strict=True)),
            self.limits.window_seconds,
            "Too many failed sign-in attempts from this address; try again later.",
            self.clock,
        )

    async def record_success(self, conn: Connection, keys: tuple[bytes, bytes]) -> None:
        """A correct password gives the attempt's places back: the account counter is cleared; the address
        counter loses this attempt and its block if that attempt alone brought it to the limit."""
        await conn.execute("DELETE FROM identity.login_throttle WHERE key = $1", keys[0])
        await conn.execute(
            "UPDATE identity.login_throttle SET failures = failures - 1,"
            " blocked_until = CASE WHEN failures - 1 < $2 THEN NULL ELSE blocked_until END"
            " WHERE key = $1 AND failures > 0",
            keys[1],
            self.limits.per_address,
        )

    async def purge(self, conn: Connection) -> int:
        """Drop counters whose window and block are over (run periodically)."""
        result = await conn.execute(
            "DELETE FROM identity.login_throttle"
            " WHERE window_start < coalesce($2::timestamptz, now()) - make_interval(secs => $1)"
            " AND (blocked_until IS NULL OR blocked_until < coalesce($2::timestamptz, now()))",
            float(self.limits.window_seconds),
            None if self.clock is None else self.clock(),
        )
        return int(result.split()[-1])


@dataclass(frozen=True)
class RegistrationThrottle:
    """Self-registrations per client address and window (every attempt counts)."""

    per_address: int
    window_seconds: int
    clock: Clock | None = None

    async def take(self, conn: Connection, address: str) -> None:
        await _take(
            conn,
            ((_key("register-ip", address), self.per_address),),
            self.window_seconds,
            "Too many sign-up attempts from this address; try again later.",
            self.clock,
        )
