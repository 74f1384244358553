"""The token and revocation endpoints' errors in OAuth2 form (RFC 6749 §5.2, RFC 7009 §2.2.1).

Each is a problem+json like every other error, with the OAuth members beside: `error` (the RFC's code)
and `error_description`; a client of either standard reads what it knows. Wrong credentials and used
refresh tokens are `identity.service.InvalidGrant`.
"""

from __future__ import annotations

from runtime.errors import BadRequest, FieldError

GRANT_TYPES = ("password", "refresh_token")


class InvalidRequest(BadRequest):
    """OAuth2 `invalid_request`: a parameter is missing, repeated, of the wrong type or unreadable (400);
    `errors` names each one, as a 422 would."""

    slug = "invalid-request"

    def __init__(self, errors: list[FieldError]) -> None:
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        super().__init__(detail)
        self.extra.update(error="invalid_request", error_description=detail, errors=[e.as_dict() for e in errors])


class UnsupportedGrantType(BadRequest):
    """OAuth2 `unsupported_grant_type` (400)."""

    slug = "unsupported-grant-type"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, error="unsupported_grant_type", error_description=detail)


def bad_grant_type(grant_type: str | None) -> BadRequest:
    """The error for a token request whose `grant_type` is absent or not one this issuer supports."""
    accepted = " or ".join(f"'{g}'" for g in GRANT_TYPES)
    if not grant_type:
        return InvalidRequest([FieldError("grant_type", "missing", f"is required: {accepted}")])
    shown = grant_type if len(grant_type) <= 40 else grant_type[:39] + "…"
    return UnsupportedGrantType(f"The grant type '{shown}' is not supported: use {accepted}.")
