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
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from runtime.settings import Settings
from tests.dojo.conftest import CollabServer

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
    schema = schemathesis.openapi.from_dict(document)
    headers = {"Authorization": f"Bearer {token}"}
    ran: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        targets: list[dict[str, Any] | None] = [None]
        if "{dojo_id}" in operation.path and not operation.path.endswith("/end"):
            known = {"dojo_id": dojo_id}
            if "{user_id}" in operation.path:
                known["user_id"] = user_id
            targets.append(known)
        for mode in schemathesis.GenerationMode:
            for path_parameters in targets:
                label = f"{operation.method.upper()} {operation.path} {mode.value}{' known' if path_parameters else ''}"
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
                count = 0

                @given(case=strategy)
                @settings(
                    max_examples=EXAMPLES_PER_OPERATION,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                def check(case: schemathesis.Case) -> None:
                    nonlocal count
                    count += 1
                    response = case.call(base_url=base, headers=headers, timeout=30)
                    case.validate_response(response, checks=CHECKS)

                check()
                ran[label] = count
    return ran


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
