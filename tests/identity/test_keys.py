"""RS256 key ring: persistence, rotation, JWKS and signing."""

from __future__ import annotations

import base64
import os
import stat
import threading
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from identity.keys import (
    KEY_FILE_PREFIX,
    KEY_FILE_SUFFIX,
    InvalidSigningKey,
    KeyRing,
    SigningKey,
    jwk_thumbprint,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _key_files(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"{KEY_FILE_PREFIX}*{KEY_FILE_SUFFIX}"))


def _b64url_int(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


def test_rfc7638_thumbprint_example() -> None:
    # RFC 7638 §3.1.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
        "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdA"
        "ZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-"
        "kEgU8awapJzKnqDKgw"
    )
    public_key = rsa.RSAPublicNumbers(_b64url_int("AQAB"), _b64url_int(n)).public_key()
    assert jwk_thumbprint(public_key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_load_or_create_persists_keys_privately(tmp_path: Path) -> None:
    directory = tmp_path / "state" / "keys"
    first = KeyRing.load_or_create(directory)
    assert _mode(directory) == 0o700
    files = _key_files(directory)
    assert len(files) == 1
    assert _mode(files[0]) == 0o600
    assert first.active.kid == jwk_thumbprint(first.active.public_key)
    assert first.active.private_key.key_size >= 2048

    again = KeyRing.load_or_create(directory)
    assert again.active.kid == first.active.kid
    assert again.jwks() == first.jwks()
    assert _key_files(directory) == files


def test_rotation_keeps_old_keys_published(tmp_path: Path) -> None:
    first = KeyRing.load_or_create(tmp_path)
    rotated = KeyRing.rotate(tmp_path)
    assert rotated.active.kid != first.active.kid
    assert [k.kid for k in rotated.keys] == [rotated.active.kid, first.active.kid]
    assert {k["kid"] for k in rotated.jwks()["keys"]} == {first.active.kid, rotated.active.kid}
    files = _key_files(tmp_path)
    assert len(files) == 2
    assert all(_mode(path) == 0o600 for path in files)
    # A later load sees the newest key as active.
    assert KeyRing.load_or_create(tmp_path).active.kid == rotated.active.kid


def test_rotation_names_sort_even_within_one_timestamp(tmp_path: Path, key: SigningKey) -> None:
    # A file from the "future" forces the clash path: the new key must still sort last.
    future = tmp_path / f"{KEY_FILE_PREFIX}99991231T235959999999Z{KEY_FILE_SUFFIX}"
    future.write_bytes(key.to_pem())
    future.chmod(0o600)
    rotated = KeyRing.rotate(tmp_path)
    assert rotated.active.kid != key.kid
    assert [k.kid for k in rotated.keys] == [rotated.active.kid, key.kid]


def test_concurrent_first_start_creates_one_key(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    results: list[KeyRing] = []

    def start() -> None:
        results.append(KeyRing.load_or_create(directory))

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6
    assert len({ring.active.kid for ring in results}) == 1
    assert len(_key_files(directory)) == 1


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_refuses_a_directory_others_can_write(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(PermissionError, match="writable by group or others"):
        KeyRing.load_or_create(shared)
    assert _key_files(shared) == []


def test_corrupt_key_file_is_reported(tmp_path: Path) -> None:
    KeyRing.load_or_create(tmp_path)
    bad = tmp_path / f"{KEY_FILE_PREFIX}99991231T235959999999Z{KEY_FILE_SUFFIX}"
    bad.write_text("not a key")
    bad.chmod(0o600)
    with pytest.raises(InvalidSigningKey, match=bad.name):
        KeyRing.load_or_create(tmp_path)


def test_jwks_shape(key: SigningKey) -> None:
    other = SigningKey.generate()
    ring = KeyRing([key, other])
    jwks = ring.jwks()
    assert list(jwks) == ["keys"]
    assert [jwk["kid"] for jwk in jwks["keys"]] == [key.kid, other.kid]
    for jwk, signing_key in zip(jwks["keys"], ring.keys, strict=True):
        assert set(jwk) == {"kty", "kid", "use", "alg", "n", "e"}
        assert (jwk["kty"], jwk["use"], jwk["alg"]) == ("RSA", "sig", "RS256")
        numbers = signing_key.public_key.public_numbers()
        assert _b64url_int(jwk["n"]) == numbers.n
        assert _b64url_int(jwk["e"]) == numbers.e == 65537
        assert "=" not in jwk["n"] + jwk["e"]
    # A copy: callers cannot alter the published set.
    jwks["keys"][0]["kid"] = "mutated"
    assert ring.jwks()["keys"][0]["kid"] == key.kid


def test_sign_uses_active_key_with_kid_and_typ(key: SigningKey) -> None:
    ring = KeyRing([key, SigningKey.generate()])
    token = ring.sign({"sub": "u1", "iss": "https://issuer.example"})
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": key.kid, "typ": "at+jwt"}
    assert jwt.decode(token, key.public_key, algorithms=["RS256"]) == {"sub": "u1", "iss": "https://issuer.example"}
    assert jwt.get_unverified_header(ring.sign({}, typ="JWT"))["typ"] == "JWT"
    assert "typ" not in jwt.get_unverified_header(ring.sign({}, typ=None))


def test_from_pems_first_is_active(key: SigningKey) -> None:
    other = SigningKey.generate()
    ring = KeyRing.from_pems([other.to_pem().decode(), key.to_pem()])
    assert ring.active.kid == other.kid
    assert [k.kid for k in ring.keys] == [other.kid, key.kid]
    # PKCS#1 ("BEGIN RSA PRIVATE KEY") is accepted too.
    pkcs1 = key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    assert KeyRing.from_pems([pkcs1]).active.kid == key.kid


def test_from_pems_refuses_bad_input(key: SigningKey) -> None:
    with pytest.raises(TypeError):
        KeyRing.from_pems(key.to_pem().decode())
    with pytest.raises(InvalidSigningKey):
        KeyRing.from_pems([])
    with pytest.raises(InvalidSigningKey):
        KeyRing.from_pems(["-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n"])
    with pytest.raises(InvalidSigningKey, match="duplicate"):
        KeyRing.from_pems([key.to_pem(), key.to_pem()])
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(InvalidSigningKey, match="RSA"):
        KeyRing.from_pems([ec_pem])
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - must be refused
    small = weak.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(InvalidSigningKey, match="2048"):
        KeyRing.from_pems([small])
    with pytest.raises(InvalidSigningKey, match="2048"):
        SigningKey.generate(bits=1024)


def test_private_key_not_in_repr(key: SigningKey) -> None:
    assert "private_key" not in repr(key)
    assert key.kid in repr(KeyRing([key]))
