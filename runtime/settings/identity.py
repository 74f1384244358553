"""The identity service's settings: signing keys, token lifetimes, passwords, brute-force limits."""

from __future__ import annotations

from pydantic import Field, SecretStr

from runtime.settings.base import SharedSettings

__all__ = ["IdentitySettings"]


class IdentitySettings(SharedSettings):
    """The identity service: signing keys, token lifetimes, passwords, brute-force limits."""

    signing_keys: SecretStr | None = None
    """Production: PEM private keys (concatenated); the first signs, all are published in JWKS. Dev: generated."""
    operator_token: SecretStr | None = None
    """Bearer token for `POST /v1/tenants`; dev: generated into `<state_dir>/operator-token`."""
    access_token_ttl: int = Field(default=900, ge=60, le=86_400)
    """Access token lifetime (seconds)."""
    refresh_token_ttl: int = Field(default=30 * 86_400, ge=3600)
    """Refresh token lifetime (seconds)."""
    password_min_length: int = Field(default=8, ge=8, le=64)
    """Shortest password accepted (8–64)."""
    login_max_failures_per_account_ip: int = Field(default=5, ge=1)
    """Failed sign-ins per account and client address within the window before 429."""
    register_max_per_ip: int = Field(default=10, ge=1)
    """Self-registration attempts per client address and window (429 above)."""
    register_window_seconds: int = Field(default=3600, ge=10)
    """The self-registration window (seconds)."""
    login_max_failures_per_ip: int = Field(default=50, ge=1)
    """Failed sign-ins per client address within the window before 429."""
    login_failure_window_seconds: int = Field(default=900, ge=10)
    """The failed sign-in window (seconds)."""
