"""Brute-force limits for the password grant, shared by every node through PostgreSQL.

Two counters per attempt, each over a sliding window:
- (account, client address): a handful of failures, then blocked with exponential backoff;
- (client address): many failures across accounts (credential stuffing), then blocked.
There is deliberately no account-wide lock: an attacker elsewhere cannot lock the real user out,
whose own address has its own counters (ASVS 5 "no malicious lockout"). Blocked callers get 429
with Retry-After before any password is checked, so a blocked attacker learns nothing more.
Keys are SHA-256 digests, so the table holds no e-mail address or IP in clear.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from runtime.db import Connection
from runtime.errors import TooManyRequests

MAX_BLOCK_SECONDS = 900


@dataclass(frozen=True)
class ThrottleLimits:
    per_account_address: int
    per_address: int
    window_seconds: int


def _key(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


@dataclass(frozen=True)
class LoginThrottle:
    limits: ThrottleLimits

    def keys(self, tenant_id: str, email: str, address: str) -> tuple[bytes, bytes]:
        return _key("acct-ip", tenant_id, email, address), _key("ip", address)

    async def check(self, conn: Connection, keys: tuple[bytes, bytes]) -> None:
        """Raise TooManyRequests if either counter is blocked now."""
        wait = await conn.fetchval(
            "SELECT max(extract(epoch FROM blocked_until - now())) FROM identity.login_throttle"
            " WHERE key = ANY($1::bytea[]) AND blocked_until > now()",
            list(keys),
        )
        if wait is not None:
            raise TooManyRequests(
                "Too many failed sign-in attempts from this address; try again later.",
                retry_after=math.ceil(float(wait)),
            )

    async def record_failure(self, conn: Connection, keys: tuple[bytes, bytes]) -> None:
        for key, limit in zip(keys, (self.limits.per_account_address, self.limits.per_address), strict=True):
            await conn.execute(
                """
                INSERT INTO identity.login_throttle AS t (key, failures, window_start)
                VALUES ($1, 1, now())
                ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN t.window_start < now() - make_interval(secs => $2)
                                    THEN 1 ELSE t.failures + 1 END,
                    window_start = CASE WHEN t.window_start < now() - make_interval(secs => $2)
                                        THEN now() ELSE t.window_start END
                """,
                key,
                float(self.limits.window_seconds),
            )
            # Backoff doubles with each failure past the limit: 30 s, 60 s, ... up to 15 min.
            await conn.execute(
                """
                UPDATE identity.login_throttle
                SET blocked_until = now() + make_interval(
                        secs => least($3::float8, 30 * power(2, greatest(failures - $2, 0))))
                WHERE key = $1 AND failures >= $2
                """,
                key,
                limit,
                float(MAX_BLOCK_SECONDS),
            )

    async def record_success(self, conn: Connection, keys: tuple[bytes, bytes]) -> None:
        await conn.execute("DELETE FROM identity.login_throttle WHERE key = $1", keys[0])

    async def purge(self, conn: Connection) -> int:
        """Drop counters whose window and block are over (run periodically)."""
        result = await conn.execute(
            "DELETE FROM identity.login_throttle WHERE window_start < now() - make_interval(secs => $1)"
            " AND (blocked_until IS NULL OR blocked_until < now())",
            float(self.limits.window_seconds),
        )
        return int(result.split()[-1])
