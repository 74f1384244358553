"""The dojo service's REST operations (dojos, chat, moderation, collab document API) fuzzed with
schemathesis against the running service with a real token: no answer may be a 5xx, and every status
code must be one the OpenAPI document lists. Runs in a worker thread while the server serves."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from runtime.settings import Settings
from tests.dojo.conftest import CollabServer
from tests.openapi_fuzz import fuzz

EXAMPLES_PER_OPERATION = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]


@pytest.fixture
async def server(make_settings: Callable[..., Settings]) -> AsyncIterator[CollabServer]:
    server = CollabServer(make_settings)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _fuzz(base: str, document: dict[str, Any], token: str, dojo_id: str, user_id: str) -> dict[str, int]:
    """Every operation × generation mode, with random ids and (except `end`) a live dojo and participant."""

    def targets(operation: Any) -> list[dict[str, Any] | None]:
        if "{dojo_id}" not in operation.path or operation.path.endswith("/end"):
            return [None]
        known = {"dojo_id": dojo_id}
        if "{user_id}" in operation.path:
            known["user_id"] = user_id
        return [None, known]

    return fuzz(base, document, token, targets=targets, checks=CHECKS, examples=EXAMPLES_PER_OPERATION)


async def test_dojo_api_holds_under_fuzzing(server: CollabServer) -> None:
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        host = await server.user(http)
        member = await server.user(http, tenant=host.tenant, email=f"m@{host.tenant}.example.com")
        dojo = (await http.post("/v1/dojos", json={"title": "fuzzed"}, headers=host.auth)).json()
        ticket = await http.post(f"/v1/dojos/{dojo['id']}/tickets", headers=member.auth)
        assert ticket.status_code == 201
        me = (await http.get("/v1/auth/me", headers=member.auth)).json()["id"]
    document: dict[str, Any] = json.loads(json.dumps(server.dojo_app.openapi()))
    assert "/v1/dojos/{dojo_id}/messages" in document["paths"]
    ran = await asyncio.to_thread(_fuzz, server.base, document, host.access_token, dojo["id"], me)
    assert all(count > 0 for count in ran.values()), ran
    assert len(ran) >= 20
