"""Signed download tokens for the local object store.

A token is `base64url(json claims) "." base64url(HMAC-SHA256(secret, domain || claims))`. The claims
are the object's key, the filename and content type the download is served with, and the expiry
(Unix seconds). Holding the token is the credential: whoever has the URL may download that one object
until it expires, and nothing else; altering any claim breaks the MAC.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

MAX_EXPIRES_IN = 900
"""Longest life of a signed URL, in seconds (the object store protocol's limit)."""
MAX_TOKEN_LENGTH = 4096
MIN_SECRET_BYTES = 32
_DOMAIN = b"pocdojo-media-file-v1\x00"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class TokenError(Exception):
    """The token is malformed, forged, or altered."""


class TokenExpired(TokenError):
    """The token was genuine but its time is up."""


@dataclass(frozen=True)
class SignedFile:
    """What a valid token grants: one object, served under this filename and content type."""

    key: str
    filename: str
    content_type: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_expires_in(expires_in: int) -> None:
    """Refuse a lifetime outside 1..900 seconds (a programming error, not a user's)."""
    if not 1 <= expires_in <= MAX_EXPIRES_IN:
        raise ValueError(f"a signed URL lives 1 to {MAX_EXPIRES_IN} seconds, not {expires_in}")


def check_header_text(filename: str, content_type: str) -> None:
    """Refuse a filename or content type that could not travel in a response header."""
    if not filename or not content_type:
        raise ValueError("a download needs a filename and a content type")
    if _CONTROL.search(filename) or _CONTROL.search(content_type) or not content_type.isascii():
        raise ValueError("a download's filename and content type hold no control characters")


class UrlSigner:
    """Issues and checks download tokens; `url()` puts a token under `{base_url}/v1/media/files/`."""

    def __init__(self, secret: bytes, base_url: str, *, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the media URL secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self._clock = clock

    def _mac(self, claims: bytes) -> bytes:
        return hmac.new(self._secret, _DOMAIN + claims, hashlib.sha256).digest()

    def sign(self, key: str, *, filename: str, content_type: str, expires_in: int) -> str:
        check_expires_in(expires_in)
        check_header_text(filename, content_type)
        expires_at = int(self._clock()) + expires_in
        claims = orjson.dumps({"k": key, "f": filename, "t": content_type, "e": expires_at})
        return f"{_b64(claims)}.{_b64(self._mac(claims))}"

    def url(self, token: str) -> str:
        return f"{self.base_url}/v1/media/files/{token}"

    def verify(self, token: str) -> SignedFile:
        """The grant of a genuine, unexpired token; `TokenExpired` or `TokenError` otherwise."""
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
            raise TokenError("malformed token")
        claims_part, mac_part = token.split(".")
        try:
            claims = _unb64(claims_part)
            mac = _unb64(mac_part)
        except (binascii.Error, ValueError) as exc:
            raise TokenError("malformed token") from exc
        if not hmac.compare_digest(mac, self._mac(claims)):
            raise TokenError("bad signature")
        try:
            data = orjson.loads(claims)
            grant = SignedFile(
                key=_str(data["k"]), filename=_str(data["f"]), content_type=_str(data["t"]), expires_at=_int(data["e"])
            )
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise TokenError("malformed claims") from exc
        if self._clock() >= grant.expires_at:
            raise TokenExpired("the link has expired")
        return grant


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("expected an integer")
    return value
