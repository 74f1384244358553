"""Error responses as the dojo service's OpenAPI document lists them (RFC 9457 problem+json)."""

from __future__ import annotations

from typing import Any

Responses = dict[int | str, dict[str, Any]]


def problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


COMMON: Responses = {
    400: problem("Malformed request (e.g. the body is not valid JSON)."),
    401: problem("Missing, invalid or expired access token."),
    403: problem("Not allowed: only the host moderates; kicked users stay out; a locked dojo takes no one new."),
    404: problem("No such dojo or room in your organization."),
    409: problem("The dojo has ended (`dojo-ended`), or the change conflicts with its state."),
    413: problem("The body exceeds the size limit."),
    415: problem("The body has the wrong content type."),
    422: problem("Invalid fields or parameters: `errors` lists each one."),
}
