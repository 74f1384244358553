"""TURN REST credentials: minted by signaling, checked as coturn's `use-auth-secret` does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from signaling import (
    IceConfig,
    TurnCredentialExpired,
    TurnCredentialInvalid,
    mint_credential,
    verify_credential,
)

SECRET = b"a-shared-turn-secret-of-enough-length"


def independent_hmac(secret: bytes, username: str) -> str:
    """What coturn computes: base64(HMAC-SHA1(static-auth-secret, username))."""
    return base64.b64encode(hmac.new(secret, username.encode("utf-8"), hashlib.sha1).digest()).decode("ascii")


def test_credential_is_the_hmac_of_expiry_and_peer() -> None:
    cred = mint_credential(SECRET, "pAbC", 3600, now=1_700_000_000)
    assert cred.username == "1700003600:pAbC"
    assert cred.expires_at == 1_700_003_600
    assert cred.credential == independent_hmac(SECRET, "1700003600:pAbC")
    assert len(base64.b64decode(cred.credential)) == 20  # SHA-1


def test_verification_honours_the_configured_ttl() -> None:
    ttl = 120
    issued = 1_700_000_000
    cred = mint_credential(SECRET, "p1", ttl, now=issued)
    assert verify_credential(SECRET, cred.username, cred.credential, now=issued) == "p1"
    assert verify_credential(SECRET, cred.username, cred.credential, now=issued + ttl - 1) == "p1"
    with pytest.raises(TurnCredentialExpired):
        verify_credential(SECRET, cred.username, cred.credential, now=issued + ttl)
    with pytest.raises(TurnCredentialExpired):
        verify_credential(SECRET, cred.username, cred.credential, now=issued + 10 * ttl)


def test_forged_or_malformed_credentials_are_refused() -> None:
    cred = mint_credential(SECRET, "p1", 600)
    with pytest.raises(TurnCredentialInvalid):
        verify_credential(b"another-secret", cred.username, cred.credential)
    expiry = cred.username.split(":")[0]
    # Extending the expiry without the secret breaks the HMAC.
    with pytest.raises(TurnCredentialInvalid):
        verify_credential(SECRET, f"{int(expiry) + 86400}:p1", cred.credential)
    with pytest.raises(TurnCredentialInvalid):
        verify_credential(SECRET, f"{expiry}:p2", cred.credential)
    for username in ("p1", ":p1", "soon:p1", f"{expiry}:", "x" * 300):
        with pytest.raises(TurnCredentialInvalid):
            verify_credential(SECRET, username, independent_hmac(SECRET, username))
    with pytest.raises(ValueError, match="must not contain"):
        mint_credential(SECRET, "a:b", 60)


def test_ice_config() -> None:
    ice = IceConfig(stun_urls=("stun:s:3478",), turn_urls=("turn:t:3478",), turn_secret=SECRET, turn_ttl_seconds=90)
    before = int(time.time())
    servers, expires_at = ice.servers_for("pX")
    assert servers[0] == {"urls": ["stun:s:3478"]}
    turn = servers[1]
    assert turn["urls"] == ["turn:t:3478"]
    assert expires_at is not None and before + 90 <= expires_at <= int(time.time()) + 90
    assert turn["username"] == f"{expires_at}:pX"
    assert turn["credential"] == independent_hmac(SECRET, turn["username"])
    assert IceConfig(stun_urls=("stun:s",)).servers_for("p") == ([{"urls": ["stun:s"]}], None)
    with pytest.raises(ValueError, match="POCDOJO_TURN_SECRET"):
        IceConfig(turn_urls=("turn:t",))
