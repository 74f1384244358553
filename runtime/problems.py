"""The one registry of problem types every service may answer with (RFC 9457 `type`).

A problem's `type` is `{public_url}/problems/{slug}`; every service serves `GET /problems/{slug}` (a short
page built from this table), so the URL a client sees resolves to its explanation. `runtime.errors`
refuses, at import, an error class whose slug is not registered here, and the HTTP boundary
(`runtime.http`) answers framework errors with registered slugs only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProblemType:
    slug: str
    status: int
    title: str
    explanation: str


def _types(*types: ProblemType) -> dict[str, ProblemType]:
    return {t.slug: t for t in types}


PROBLEM_TYPES: dict[str, ProblemType] = _types(
    ProblemType("internal", 500, "Internal server error", "The server failed unexpectedly; the failure is logged."),
    ProblemType(
        "bad-request", 400, "Bad request", "The request cannot be understood as sent; `detail` says what is wrong."
    ),
    ProblemType(
        "malformed-json",
        400,
        "Malformed JSON",
        "The body is not valid JSON; `detail` gives the parser's reason and the position.",
    ),
    ProblemType(
        "validation",
        422,
        "Validation failed",
        "One or more fields or query parameters are invalid. `errors` lists every one at once, each with "
        "`field` (e.g. `name`, `tags.2`, `language`), a machine `code` (`missing`, `wrong_type`, `too_long`, "
        "`not_one_of`, `unknown_parameter`...) and a human `message`.",
    ),
    ProblemType(
        "unauthorized",
        401,
        "Unauthorized",
        "The access token is missing, invalid or expired: sign in again (`WWW-Authenticate: Bearer` names the "
        "OAuth error).",
    ),
    ProblemType("forbidden", 403, "Forbidden", "The caller is signed in but may not do this."),
    ProblemType(
        "not-found",
        404,
        "Not found",
        "No such resource in the caller's tenant (other tenants' resources are never visible), or no such route.",
    ),
    ProblemType("method-not-allowed", 405, "Method not allowed", "The path exists but does not take this HTTP method."),
    ProblemType("conflict", 409, "Conflict", "The request conflicts with the resource's current state."),
    ProblemType("payload-too-large", 413, "Payload too large", "The request body exceeds the size limit."),
    ProblemType(
        "unsupported-media-type",
        415,
        "Unsupported media type",
        "The body has a content type this endpoint does not take (usually: send `application/json`).",
    ),
    ProblemType(
        "too-many-requests",
        429,
        "Too many requests",
        "A rate limit was reached; wait the seconds `Retry-After` (and `retry_after`) give before trying again.",
    ),
    ProblemType(
        "unavailable", 503, "Service unavailable", "A dependency is unreachable for now; retrying later may succeed."
    ),
    ProblemType(
        "invalid-grant",
        400,
        "Invalid grant",
        "OAuth2 `invalid_grant`: wrong credentials, or a refresh token that is expired, revoked or already used.",
    ),
    ProblemType(
        "invalid-request",
        400,
        "Invalid request",
        "OAuth2 `invalid_request` (token and revocation endpoints): a parameter is missing or unreadable; "
        "`error_description` and `errors` name each one.",
    ),
    ProblemType(
        "unsupported-grant-type",
        400,
        "Unsupported grant type",
        "OAuth2 `unsupported_grant_type`: the token endpoint takes `password` and `refresh_token` grants.",
    ),
    ProblemType(
        "last-admin",
        409,
        "The tenant's last administrator",
        "The change would leave the tenant without an administrator: make someone else an admin first.",
    ),
    ProblemType("dojo-ended", 409, "The dojo has ended", "The dojo has ended: nothing changes in it any more."),
    ProblemType(
        "history-off",
        409,
        "Dojo history is off",
        "The organization keeps no dojo history (an administrator turns it on with `PUT /v1/dojos/settings/history`),"
        " so there is nothing to replay.",
    ),
    ProblemType(
        "dojo-lobby",
        403,
        "Waiting in the lobby",
        "The dojo has a lobby: the caller waits there until the host admits them.",
    ),
    ProblemType(
        "storage-quota-exceeded",
        413,
        "Storage quota exceeded",
        "The tenant's collaborative documents already use their whole storage quota.",
    ),
    ProblemType(
        "range-not-satisfiable",
        416,
        "Range not satisfiable",
        "The `Range` header asks for bytes outside the file (`Content-Range` gives its size).",
    ),
)


_STATUS_SLUGS = {t.status: t.slug for t in reversed(PROBLEM_TYPES.values())}
"""The generic slug of each status (the first registered with it)."""


def slug_for_status(status: int) -> str:
    """The registered slug a framework error of this status is answered with."""
    slug = _STATUS_SLUGS.get(status)
    if slug is not None:
        return slug
    return "bad-request" if status < 500 else "internal"


def problem_type(slug: str) -> ProblemType:
    """The registered type `slug`, or `KeyError`."""
    return PROBLEM_TYPES[slug]


def problem_url(base_url: str, slug: str) -> str:
    """The `type` URI of `slug` for a deployment answering at `base_url`."""
    return f"{base_url.rstrip('/')}/problems/{slug}"
