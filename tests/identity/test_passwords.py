"""Password policy (ASVS 5) and argon2id hashing."""

from __future__ import annotations

import re
import threading

import pytest

from identity.passwords import (
    ARGON2_MEMORY_COST_KIB,
    ARGON2_PARALLELISM,
    ARGON2_TIME_COST,
    DUMMY_HASH,
    PasswordHasher,
    PasswordPolicy,
    PasswordRejected,
    RejectionReason,
    common_passwords,
)

_ENCODED = re.compile(
    r"^\$argon2id\$v=(?P<v>\d+)\$m=(?P<m>\d+),t=(?P<t>\d+),p=(?P<p>\d+)\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<tag>[A-Za-z0-9+/]+)$"
)


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher()


@pytest.fixture(scope="module")
def policy() -> PasswordPolicy:
    return PasswordPolicy()


def _rejected(policy: PasswordPolicy, password: str, **kwargs: object) -> PasswordRejected:
    with pytest.raises(PasswordRejected) as info:
        policy.check(password, **kwargs)  # type: ignore[arg-type]
    return info.value


# ---------------------------------------------------------------- policy


def test_common_password_list_is_zxcvbn_top_30k() -> None:
    words = common_passwords()
    assert 29_000 <= len(words) <= 30_000
    assert {"password", "123456", "iloveyou", "sunshine"} <= words
    assert all(word == word.casefold() for word in words)


@pytest.mark.parametrize("password", ["", "a", "abc1234", "Tr0ub4d"])
def test_too_short_is_refused_saying_why(policy: PasswordPolicy, password: str) -> None:
    error = _rejected(policy, password)
    assert error.reason_code is RejectionReason.TOO_SHORT
    assert "must be at least 8 characters" in error.message


def test_min_length_is_a_setting(policy: PasswordPolicy) -> None:
    strict = PasswordPolicy(min_length=15)
    error = _rejected(strict, "violet-kettle9")  # 14 characters
    assert "must be at least 15 characters" in error.message
    strict.check("violet-kettle99")
    policy.check("violet-kettle9")


@pytest.mark.parametrize("password", ["password", "PASSWORD", "Password1", "iloveyou", "SunShine", "qwertyuiop"])
def test_common_passwords_are_refused_case_insensitively(policy: PasswordPolicy, password: str) -> None:
    error = _rejected(policy, password)
    assert error.reason_code is RejectionReason.COMMON
    assert "is one of the most commonly used passwords" in error.message


@pytest.mark.parametrize("length", [8, 15, 64, 65, 100, 128])
def test_long_passwords_are_accepted(policy: PasswordPolicy, length: int) -> None:
    password = ("correct horse battery staple " * 5)[:length]
    assert len(password) == length
    policy.check(password)


def test_longer_than_128_is_refused_with_a_message(policy: PasswordPolicy) -> None:
    error = _rejected(policy, "x7" * 64 + "z")
    assert error.reason_code is RejectionReason.TOO_LONG
    assert "must be at most 128 characters" in error.message
    # Megabyte-sized input is refused cheaply, not normalized.
    assert _rejected(policy, "y" * 1_000_000).reason_code is RejectionReason.TOO_LONG


def test_no_composition_rules(policy: PasswordPolicy) -> None:
    for password in [
        "all lowercase words here",
        "ONLYUPPERCASEWORDS",
        "9731846250",
        "ééééééééé",
        "猫が好きです犬も好き",
    ]:
        policy.check(password)


def test_length_is_counted_in_code_points_after_nfkc(policy: PasswordPolicy) -> None:
    # Seven "é" written as e + combining accent: 14 code points raw, 7 after NFKC.
    _rejected(policy, "e\u0301" * 7)
    policy.check("e\u0301" * 8)
    # Four "ﬁ" ligatures: 4 code points raw, 8 after NFKC ("fififififi"...).
    policy.check("\ufb01" * 4)
    # Emoji count as one code point each.
    assert _rejected(policy, "🔑" * 7).reason_code is RejectionReason.TOO_SHORT
    policy.check("🔑" * 8)


def test_common_check_applies_after_nfkc(policy: PasswordPolicy) -> None:
    # Fullwidth letters normalize to ASCII "password".
    assert _rejected(policy, "ｐａｓｓｗｏｒｄ").reason_code is RejectionReason.COMMON


def test_context_words_are_refused(policy: PasswordPolicy) -> None:
    context = ("Ada.Lovelace@Analytical.example", "analytical-engines")
    for password in ["ada.lovelace@analytical.example", "ADA.LOVELACE", "Analytical-Engines"]:
        error = _rejected(policy, password, context=context)
        assert error.reason_code is RejectionReason.MATCHES_CONTEXT
        assert "email address" in error.message
        assert password.casefold() not in error.message.casefold()
    policy.check("ada.lovelace-rocks", context=context)
    policy.check("ada.lovelace")  # no context given


def test_policy_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="at least 8"):
        PasswordPolicy(min_length=6)
    with pytest.raises(ValueError, match="at least 64"):
        PasswordPolicy(max_length=32)
    with pytest.raises(ValueError, match="exceed"):
        PasswordPolicy(min_length=100, max_length=80)
    assert PasswordPolicy(max_length=256).max_length == 256


# ---------------------------------------------------------------- hashing


def test_hash_is_argon2id_with_documented_parameters(hasher: PasswordHasher) -> None:
    assert (ARGON2_MEMORY_COST_KIB, ARGON2_TIME_COST, ARGON2_PARALLELISM) == (19456, 2, 1)
    encoded = hasher.hash("violet-kettle-42")
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    match = _ENCODED.match(encoded)
    assert match is not None
    assert (match["v"], match["m"], match["t"], match["p"]) == ("19", "19456", "2", "1")
    assert hasher.parameters_prefix == "$argon2id$v=19$m=19456,t=2,p=1$"
    # Salted: the same password hashes differently every time.
    assert hasher.hash("violet-kettle-42") != encoded


def test_verify(hasher: PasswordHasher) -> None:
    encoded = hasher.hash("violet-kettle-42")
    assert hasher.verify(encoded, "violet-kettle-42") is True
    assert hasher.verify(encoded, "violet-kettle-43") is False
    assert hasher.verify(encoded, "") is False


def test_verify_normalizes_like_hash(hasher: PasswordHasher) -> None:
    encoded = hasher.hash("\ufb01ne caf\u00e9 tables")  # "ﬁ" ligature, precomposed é
    assert hasher.verify(encoded, "fine cafe\u0301 tables")


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plaintext-password",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",  # bcrypt
        "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$6DXsKOXvQiHasW1mPBvs8e0Z3c6vdGWMl3mH9Y2ScZk",
        "$argon2id$v=19$m=19456,t=2,p=1$garbage",
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$not base64!",
        "$argon2id$v=19$m=19456,t=2,p=1$é$é",
    ],
)
def test_verify_never_raises_on_unusable_hashes(hasher: PasswordHasher, stored: str) -> None:
    assert hasher.verify(stored, "violet-kettle-42") is False
    assert hasher.needs_rehash(stored) is True


def test_needs_rehash(hasher: PasswordHasher) -> None:
    encoded = hasher.hash("violet-kettle-42")
    assert hasher.needs_rehash(encoded) is False
    stronger = PasswordHasher(time_cost=3)
    assert stronger.needs_rehash(encoded) is True
    assert stronger.verify(encoded, "violet-kettle-42")  # old hashes keep verifying


def test_dummy_verification(hasher: PasswordHasher) -> None:
    assert DUMMY_HASH.startswith(hasher.parameters_prefix)
    assert hasher.dummy_hash == DUMMY_HASH
    assert hasher.verify_dummy("anything") is False
    custom = PasswordHasher(time_cost=3)
    assert custom.dummy_hash.startswith("$argon2id$v=19$m=19456,t=3,p=1$")
    assert custom.verify_dummy("anything") is False


class _ThreadRecordingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__()
        self.threads: list[int] = []

    def hash(self, password: str) -> str:
        self.threads.append(threading.get_ident())
        return super().hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        self.threads.append(threading.get_ident())
        return super().verify(stored_hash, password)


async def test_async_variants_run_off_the_event_loop_thread() -> None:
    recording = _ThreadRecordingHasher()
    encoded = await recording.hash_async("violet-kettle-42")
    assert await recording.verify_async(encoded, "violet-kettle-42") is True
    assert await recording.verify_async(encoded, "wrong-password-1") is False
    assert await recording.verify_dummy_async("violet-kettle-42") is False
    assert len(recording.threads) == 4
    assert threading.get_ident() not in recording.threads


def test_hasher_parameters_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        PasswordHasher(time_cost=0)
