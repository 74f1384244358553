"""The media service's identity client: the names a report's cover takes from `GET /v1/auth/me`.

The real identity service answers in tests/media/jobs (a member's PDF names the tenant by its display
name); here a fake transport plays an identity service from before `tenant_name` (a rolling deploy)."""

from __future__ import annotations

from typing import Any

import httpx

from media.identity_client import IdentityClient

ME = {"id": "u-1", "email": "ana@acme.example.com", "display_name": "Ana", "roles": ["member"]}


def identity_answering(body: dict[str, Any]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        assert (request.url.path, request.headers["authorization"]) == ("/v1/auth/me", "Bearer t")
        return httpx.Response(200, json=body)

    return httpx.MockTransport(answer)


async def test_the_tenant_is_named_by_its_display_name_else_its_slug() -> None:
    for body, expected in (
        ({**ME, "tenant": "acme", "tenant_name": "ACME Ltda."}, "ACME Ltda."),
        ({**ME, "tenant": "acme"}, "acme"),  # an identity service that predates tenant_name
    ):
        client = IdentityClient("http://identity", transport=identity_answering(body))
        try:
            names = await client.caller_names("t")
        finally:
            await client.aclose()
        assert (names.tenant_name, names.user_name) == (expected, "Ana")
