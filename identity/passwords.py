"""Password policy and hashing (OWASP ASVS 5, NIST SP 800-63B).

Policy (`PasswordPolicy`):

* length is counted in Unicode code points after NFKC normalization;
* at least `min_length` (default 8, 15 recommended), at most `max_length` (default 128, never below 64);
* no composition rules (no "one digit, one symbol" requirements);
* refused when it is one of the ~30,000 most common passwords (zxcvbn's frequency list, compared
  case-insensitively), or when it equals a context word: the user's email address, its local part, or
  the tenant slug.

Hashing (`PasswordHasher`): argon2id with m=19456 KiB, t=2, p=1 (the OWASP minimum), 16-byte salt, 32-byte
tag. Passwords are NFKC-normalized before hashing and before verifying, so the same password typed on
different keyboards/platforms produces the same hash input. Hashing takes tens of milliseconds of CPU:
async code must use `hash_async` / `verify_async`, which run in a worker thread.

To keep login timing independent of whether the account exists, call `verify_dummy` (or
`verify_dummy_async`) when there is no user: it costs the same as a real verification and returns False.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "ARGON2_HASH_LEN",
    "ARGON2_MEMORY_COST_KIB",
    "ARGON2_PARALLELISM",
    "ARGON2_SALT_LEN",
    "ARGON2_TIME_COST",
    "DUMMY_HASH",
    "PasswordHasher",
    "PasswordPolicy",
    "PasswordRejected",
    "RejectionReason",
    "common_passwords",
    "normalize_password",
]

ARGON2_MEMORY_COST_KIB: Final = 19456
"""argon2id memory cost m in KiB (19 MiB, OWASP's minimum recommendation)."""
ARGON2_TIME_COST: Final = 2
"""argon2id iterations t."""
ARGON2_PARALLELISM: Final = 1
"""argon2id lanes p."""
ARGON2_HASH_LEN: Final = 32
"""Length in bytes of the argon2 tag."""
ARGON2_SALT_LEN: Final = 16
"""Length in bytes of the random salt."""

DUMMY_HASH: Final = "$argon2id$v=19$m=19456,t=2,p=1$Qmg7wQboemZnPG8NBr1ThQ$wff+xP/RsQ9whyKmntLyd1w18hY7OtCcRpGbcStpjfc"
"""An argon2id hash of a discarded random secret, with the default parameters (used by `verify_dummy`)."""

# Inputs longer than this are never hashed or verified (NFKC can expand a code point up to 18 times, so
# bound the raw input before normalizing it).
_MAX_INPUT_CODE_POINTS: Final = 4096
_ARGON2ID_PREFIX: Final = "$argon2id$"


class RejectionReason(StrEnum):
    """Machine-readable reason a password was refused (`PasswordRejected.reason_code`)."""

    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    COMMON = "common"
    MATCHES_CONTEXT = "matches_context"


class PasswordRejected(ValueError):
    """The password does not satisfy the policy.

    `reason_code` is a `RejectionReason`; `message` is a complete sentence safe to show to the user
    (it never contains the password).
    """

    def __init__(self, reason_code: RejectionReason, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message


def normalize_password(password: str) -> str:
    """Return the NFKC normal form of `password` (what is measured, compared and hashed)."""
    return unicodedata.normalize("NFKC", password)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The common-password list (lower-cased), loaded once from zxcvbn's frequency lists."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    raw: str | list[str] = FREQUENCY_LISTS["passwords"]
    # zxcvbn 4.4 ships a comma-separated string, 4.5 splits it at import.
    words = raw.split(",") if isinstance(raw, str) else raw
    return frozenset(word.strip().casefold() for word in words if word.strip())


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """Password rules for new and changed passwords.

    `min_length` must be at least 8 (ASVS 5 allows 8; 15 is recommended); `max_length` at least 64.
    """

    min_length: int = 8
    max_length: int = 128
    reject_common: bool = True

    def __post_init__(self) -> None:
        if self.min_length < 8:
            raise ValueError("min_length must be at least 8")
        if self.max_length < 64:
            raise ValueError("max_length must be at least 64")
        if self.min_length > self.max_length:
            raise ValueError("min_length must not exceed max_length")

    def check(self, password: str, *, context: Iterable[str] = ()) -> None:
        """Raise `PasswordRejected` if `password` is not acceptable, else return None.

        `context` holds words the password must not equal (case-insensitively, after NFKC): pass the
        user's email address (its local part is checked too) and the tenant slug.
        """
        if len(password) > _MAX_INPUT_CODE_POINTS:
            raise self._too_long()
        normalized = normalize_password(password)
        length = len(normalized)
        if length < self.min_length:
            raise PasswordRejected(
                RejectionReason.TOO_SHORT, f"Password must be at least {self.min_length} characters."
            )
        if length > self.max_length:
            raise self._too_long()
        folded = normalized.casefold()
        if self.reject_common and folded in common_passwords():
            raise PasswordRejected(
                RejectionReason.COMMON,
                "Password is one of the most commonly used passwords; choose a less predictable one.",
            )
        if folded in _context_words(context):
            raise PasswordRejected(
                RejectionReason.MATCHES_CONTEXT,
                "Password must not be the same as your email address, its user name, or the organization name.",
            )

    def _too_long(self) -> PasswordRejected:
        return PasswordRejected(RejectionReason.TOO_LONG, f"Password must be at most {self.max_length} characters.")


def _context_words(context: Iterable[str]) -> set[str]:
    words: set[str] = set()
    for item in context:
        word = normalize_password(item).strip().casefold()
        if not word:
            continue
        words.add(word)
        local, at, _domain = word.rpartition("@")
        if at and local:
            words.add(local)
    return words


class PasswordHasher:
    """argon2id hashing with the documented parameters; see the module docstring.

    The defaults are the production parameters. Cheaper ones (e.g. in other services' tests) are
    accepted; OWASP's equivalent alternatives are m=47104/t=1, m=12288/t=3, m=9216/t=4, m=7168/t=5.

    `verify` returns a bool and never raises for a wrong password or an unusable stored hash (anything
    that is not an argon2id hash verifies as False).
    """

    def __init__(
        self,
        *,
        memory_cost_kib: int = ARGON2_MEMORY_COST_KIB,
        time_cost: int = ARGON2_TIME_COST,
        parallelism: int = ARGON2_PARALLELISM,
        hash_len: int = ARGON2_HASH_LEN,
        salt_len: int = ARGON2_SALT_LEN,
    ) -> None:
        if min(memory_cost_kib, time_cost, parallelism, hash_len, salt_len) < 1:
            raise ValueError("argon2id parameters must be positive")
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            hash_len=hash_len,
            salt_len=salt_len,
            type=argon2.Type.ID,
        )
        self._dummy_hash: str | None = None

    @property
    def parameters_prefix(self) -> str:
        """The encoded-hash prefix this hasher produces, e.g. ``$argon2id$v=19$m=19456,t=2,p=1$``."""
        h = self._hasher
        return f"$argon2id$v=19$m={h.memory_cost},t={h.time_cost},p={h.parallelism}$"

    def hash(self, password: str) -> str:
        """Return the encoded argon2id hash of the NFKC-normalized `password` (CPU-bound)."""
        if len(password) > _MAX_INPUT_CODE_POINTS:
            raise ValueError("password is too long to hash")
        return self._hasher.hash(normalize_password(password))

    def verify(self, stored_hash: str, password: str) -> bool:
        """Return True if `password` matches `stored_hash` (CPU-bound).

        A mismatch, a corrupt hash or a hash of another scheme returns False.
        """
        if not _is_argon2id(stored_hash) or len(password) > _MAX_INPUT_CODE_POINTS:
            return False
        try:
            return self._hasher.verify(stored_hash, normalize_password(password))
        except (VerificationError, InvalidHashError):
            # VerifyMismatchError is a VerificationError: the expected "wrong password" outcome.
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """Return True if `stored_hash` was not made with this hasher's parameters (or is not argon2id).

        Check after a successful `verify` and store `hash(password)` when True.
        """
        if not _is_argon2id(stored_hash):
            return True
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    @property
    def dummy_hash(self) -> str:
        """A hash with this hasher's parameters of a secret nobody knows (for `verify_dummy`)."""
        if self._dummy_hash is None:
            if DUMMY_HASH.startswith(self.parameters_prefix) and not self.needs_rehash(DUMMY_HASH):
                self._dummy_hash = DUMMY_HASH
            else:
                self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(32))
        return self._dummy_hash

    def verify_dummy(self, password: str) -> bool:
        """Spend the time of a real verification against a dummy hash; always returns False.

        Use when the account does not exist so that response timing does not reveal it.
        """
        self.verify(self.dummy_hash, password)
        return False

    async def hash_async(self, password: str) -> str:
        """`hash` in a worker thread, so the event loop is not blocked."""
        return await asyncio.to_thread(self.hash, password)

    async def verify_async(self, stored_hash: str, password: str) -> bool:
        """`verify` in a worker thread, so the event loop is not blocked."""
        return await asyncio.to_thread(self.verify, stored_hash, password)

    async def verify_dummy_async(self, password: str) -> bool:
        """`verify_dummy` in a worker thread; always returns False."""
        return await asyncio.to_thread(self.verify_dummy, password)


def _is_argon2id(stored_hash: object) -> bool:
    return isinstance(stored_hash, str) and stored_hash.isascii() and stored_hash.startswith(_ARGON2ID_PREFIX)
