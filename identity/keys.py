"""RS256 signing keys of the local identity service and their JWKS.

A `KeyRing` holds one or more RSA `SigningKey`s: the first is *active* (it signs new tokens), all of them
are published in the JWKS so tokens signed by a previous key keep verifying until they expire. A key's
`kid` is its RFC 7638 JWK thumbprint (SHA-256, base64url), so the same key always has the same id.

Sources:

* production: `KeyRing.from_pems([...])` with PEMs from a secret store, active key first;
* development: `KeyRing.load_or_create(directory)` keeps PEM files in a private directory (created 0700,
  files 0600) and generates the first key on first use.

Key files (development) are named ``signing-key-<UTC timestamp>.pem`` with a fixed-width timestamp
``YYYYMMDDTHHMMSSffffffZ`` (``-1`` is appended on a clash), so name order is creation order; the newest
file is the active key and every file is published. Rotate with `KeyRing.rotate(directory)` (or by
dropping a PEM with a later name into the directory); retire an old key by deleting its file once every
token it signed has expired.

Token types: RFC 9068 gives JWT access tokens the header ``typ: "at+jwt"`` so that they cannot be confused
with ID tokens (``typ: "JWT"``); `KeyRing.sign` uses ``at+jwt`` unless told otherwise, and the local-mode
verifier requires it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import stat
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

if sys.platform != "win32":
    import fcntl

__all__ = [
    "DEFAULT_RSA_BITS",
    "JWT_TYP_ACCESS",
    "JWT_TYP_ID",
    "KEY_FILE_PREFIX",
    "KEY_FILE_SUFFIX",
    "MIN_RSA_BITS",
    "InvalidSigningKey",
    "KeyRing",
    "SigningKey",
    "jwk_thumbprint",
]

logger = logging.getLogger(__name__)

JWT_TYP_ACCESS: Final = "at+jwt"
"""JOSE ``typ`` of access tokens (RFC 9068 §2.1)."""
JWT_TYP_ID: Final = "JWT"
"""JOSE ``typ`` of ID tokens and other JWTs."""
MIN_RSA_BITS: Final = 2048
DEFAULT_RSA_BITS: Final = 2048
KEY_FILE_PREFIX: Final = "signing-key-"
KEY_FILE_SUFFIX: Final = ".pem"
_TIMESTAMP_FORMAT: Final = "%Y%m%dT%H%M%S%fZ"
_LOCK_FILE: Final = ".lock"


class InvalidSigningKey(ValueError):
    """A PEM could not be used as an RS256 signing key (not RSA, too small, unreadable, duplicate...)."""


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def jwk_thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 SHA-256 thumbprint of an RSA public key, base64url without padding."""
    numbers = public_key.public_numbers()
    canonical = json.dumps(
        {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)},
        separators=(",", ":"),
        sort_keys=True,
    )
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An RSA private key with its key id (normally the key's RFC 7638 thumbprint)."""

    kid: str
    private_key: rsa.RSAPrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.private_key, rsa.RSAPrivateKey):
            raise InvalidSigningKey("signing keys must be RSA private keys")
        if self.private_key.key_size < MIN_RSA_BITS:
            raise InvalidSigningKey(f"RSA signing keys must have at least {MIN_RSA_BITS} bits")
        if not self.kid:
            raise InvalidSigningKey("a signing key needs a non-empty kid")

    @classmethod
    def generate(cls, bits: int = DEFAULT_RSA_BITS) -> SigningKey:
        """Generate a new RSA key (public exponent 65537); its kid is its thumbprint."""
        if bits < MIN_RSA_BITS:
            raise InvalidSigningKey(f"RSA signing keys must have at least {MIN_RSA_BITS} bits")
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        return cls(jwk_thumbprint(private_key.public_key()), private_key)

    @classmethod
    def from_pem(cls, pem: str | bytes) -> SigningKey:
        """Load an unencrypted PEM private key (PKCS#8 or PKCS#1); its kid is its thumbprint."""
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        try:
            private_key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise InvalidSigningKey("not an unencrypted PEM private key") from exc
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise InvalidSigningKey("signing keys must be RSA private keys")
        return cls(jwk_thumbprint(private_key.public_key()), private_key)

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        """The public half of the key."""
        return self.private_key.public_key()

    def to_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (a secret: store it with care)."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def public_jwk(self) -> dict[str, str]:
        """The public key as a JWK: ``{kty, kid, use: "sig", alg: "RS256", n, e}``."""
        numbers = self.public_key.public_numbers()
        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
        }


class KeyRing:
    """The issuer's signing keys: `active` signs, every key in `keys` is published by `jwks()`."""

    def __init__(self, keys: Sequence[SigningKey]) -> None:
        if not keys:
            raise InvalidSigningKey("a key ring needs at least one key")
        kids = [key.kid for key in keys]
        if len(set(kids)) != len(kids):
            raise InvalidSigningKey("duplicate key ids in the key ring")
        self._keys: tuple[SigningKey, ...] = tuple(keys)
        self._jwks: dict[str, Any] = {"keys": [key.public_jwk() for key in self._keys]}

    def __repr__(self) -> str:
        return f"KeyRing(active={self.active.kid!r}, kids={[key.kid for key in self._keys]!r})"

    @property
    def active(self) -> SigningKey:
        """The key that signs new tokens."""
        return self._keys[0]

    @property
    def keys(self) -> tuple[SigningKey, ...]:
        """All keys, active first."""
        return self._keys

    @classmethod
    def from_pems(cls, pems: Sequence[str | bytes]) -> KeyRing:
        """Build a ring from PEM private keys (production): the first is active, all are published."""
        if isinstance(pems, str | bytes):
            raise TypeError("from_pems takes a sequence of PEM strings, not one string")
        return cls([SigningKey.from_pem(pem) for pem in pems])

    @classmethod
    def load_or_create(cls, directory: Path, *, bits: int = DEFAULT_RSA_BITS) -> KeyRing:
        """Load the ring kept in `directory` (development), generating a first key if there is none.

        The directory is created with mode 0700 and must not be writable by group or others (anyone who can
        add a key file there can mint tokens). See the module docstring for file naming and rotation.
        """
        directory = Path(directory)
        _ensure_private_directory(directory)
        with _directory_lock(directory):
            if not _key_files(directory):
                _write_key_file(directory, SigningKey.generate(bits))
            return cls._load(directory)

    @classmethod
    def rotate(cls, directory: Path, *, bits: int = DEFAULT_RSA_BITS) -> KeyRing:
        """Generate a new active key in `directory` (development) and return the reloaded ring.

        Older keys stay published until their files are deleted.
        """
        directory = Path(directory)
        _ensure_private_directory(directory)
        with _directory_lock(directory):
            _write_key_file(directory, SigningKey.generate(bits))
            return cls._load(directory)

    @classmethod
    def _load(cls, directory: Path) -> KeyRing:
        keys: list[SigningKey] = []
        for path in sorted(_key_files(directory), key=_stem, reverse=True):
            _warn_if_exposed(path)
            try:
                keys.append(SigningKey.from_pem(path.read_bytes()))
            except InvalidSigningKey as exc:
                raise InvalidSigningKey(f"{path}: {exc}") from exc
        return cls(keys)

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set: ``{"keys": [{kty, kid, use, alg, n, e}, ...]}`` (a fresh copy)."""
        return {"keys": [dict(key) for key in self._jwks["keys"]]}

    def sign(self, claims: Mapping[str, Any], *, typ: str | None = JWT_TYP_ACCESS) -> str:
        """Sign `claims` with the active key: RS256, header ``{alg, kid, typ}``.

        `typ` defaults to ``at+jwt`` (access tokens, RFC 9068); pass `JWT_TYP_ID` for ID tokens, or None
        to omit the header. The claims are signed as given: the caller sets ``iss``, ``exp`` etc.
        """
        headers: dict[str, Any] = {"kid": self.active.kid, "typ": typ}
        return jwt.encode(dict(claims), self.active.private_key, algorithm="RS256", headers=headers)


def _key_files(directory: Path) -> list[Path]:
    return [
        path
        for path in directory.glob(f"{KEY_FILE_PREFIX}*{KEY_FILE_SUFFIX}")
        if path.is_file() and not path.name.startswith(".")
    ]


def _ensure_private_directory(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name != "posix":
        return
    info = directory.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(str(directory))
    if info.st_mode & 0o022:
        raise PermissionError(
            f"key directory {directory} is writable by group or others; refusing to trust keys in it (chmod 700 it)"
        )
    if info.st_uid != os.geteuid():
        raise PermissionError(f"key directory {directory} is not owned by the current user")
    if info.st_mode & 0o077:
        logger.warning("key directory %s is readable by group or others (chmod 700 it)", directory)


def _warn_if_exposed(path: Path) -> None:
    if os.name == "posix" and path.stat().st_mode & 0o077:
        logger.warning("key file %s is accessible by group or others (chmod 600 it)", path)


@contextlib.contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``directory/.lock`` (POSIX) so concurrent first starts agree."""
    if sys.platform == "win32":
        yield
        return
    fd = os.open(directory / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _stem(path: Path | str) -> str:
    return Path(path).name.removesuffix(KEY_FILE_SUFFIX)


def _write_key_file(directory: Path, key: SigningKey) -> Path:
    """Write `key` under a name later than every existing key file, atomically and with mode 0600."""
    existing = sorted(_stem(path) for path in _key_files(directory))
    stem = KEY_FILE_PREFIX + datetime.now(UTC).strftime(_TIMESTAMP_FORMAT)
    if existing and stem <= existing[-1]:
        # Clock went backwards or the same microsecond: keep name order == creation order.
        stem = existing[-1] + "-1"
    final = directory / (stem + KEY_FILE_SUFFIX)
    temporary = directory / f".{stem}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        if os.name == "posix":
            os.fchmod(file.fileno(), 0o600)
        file.write(key.to_pem())
        file.flush()
        os.fsync(file.fileno())
    try:
        os.link(temporary, final)  # fails instead of overwriting an existing key
    finally:
        temporary.unlink()
    return final
