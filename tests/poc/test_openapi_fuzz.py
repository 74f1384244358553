"""The POC service's OpenAPI document, fuzzed with schemathesis against the running service.

Every operation gets valid and invalid requests generated from the document (bounded so the test runs
in well under a minute) with a real bearer token; no answer may be a 5xx, and every answer must conform
to the document: a documented status code, content type, headers and body schema. The fuzzing runs in
a worker thread (schemathesis and Hypothesis are synchronous) while the service keeps serving from the
test's event loop.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.openapi_fuzz import fuzz
from tests.poc.conftest import PocHarness, poc_fields

EXAMPLES_PER_OPERATION = 60
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _fuzz(base: str, document: dict[str, Any], token: str, poc_ids: list[str], export_id: str) -> dict[str, int]:
    """Every operation × generation mode, with random ids and (where the path has one) an existing POC or
    export."""

    def targets(operation: Any) -> list[dict[str, Any] | None]:
        if "{poc_id}" in operation.path:
            return [None, {"poc_id": poc_ids[0]}]
        if "{export_id}" in operation.path:
            return [None, {"export_id": export_id}]
        return [None]

    return fuzz(base, document, token, targets=targets, checks=CHECKS, examples=EXAMPLES_PER_OPERATION)


async def test_openapi_document_holds_under_fuzzing(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    poc_ids = [(await pocs.create(admin, **poc_fields(n)))["id"] for n in range(3)]
    export = await pocs.http.post("/v1/pocs/exports", json={"filters": {}}, headers=admin.auth)
    assert export.status_code == 201, export.text
    document = _document(pocs)
    assert set(document["paths"]) == {
        "/v1/pocs", "/v1/pocs/facets", "/v1/pocs/{poc_id}",
        "/v1/pocs/exports", "/v1/pocs/exports/{export_id}/items", "/v1/pocs/exports/{export_id}",
    }  # fmt: skip
    ran = await asyncio.to_thread(_fuzz, pocs.base, document, admin.access_token, poc_ids, export.json()["id"])
    # (search, facets, create, export) + (get, patch, delete; items, delete export) × (random, existing) ids
    assert len(ran) == 2 * (4 + 5 * 2)
    assert all(count > 0 for count in ran.values()), ran


def _document(pocs: PocHarness) -> dict[str, Any]:
    """The POC service's /openapi.json (the dev dispatcher answers that path with identity's)."""
    document: dict[str, Any] = json.loads(json.dumps(pocs.poc_app.openapi()))
    return document


async def test_openapi_document_describes_every_field_and_error(pocs: PocHarness) -> None:
    document = _document(pocs)
    components = document["components"]["schemas"]
    for name in ("PocCreate", "PocUpdate", "Poc", "ExportFilters", "ExportCreate", "ExportCreated", "ExportItems"):
        for field_name, spec in components[name]["properties"].items():
            assert spec.get("description") or field_name in ("id", "name", "language"), (name, field_name)
        assert components[name].get("examples"), name
    assert components["Problem"]["properties"]["errors"]
    search = document["paths"]["/v1/pocs"]["get"]
    assert {p["name"] for p in search["parameters"]} == {
        "q", "language", "tag", "owner", "created_from", "created_to", "sort", "limit", "cursor",
    }  # fmt: skip
    expected = {
        ("/v1/pocs", "get"): {"200", "400", "401", "422"},
        ("/v1/pocs/facets", "get"): {"200", "400", "401", "422"},
        ("/v1/pocs", "post"): {"201", "400", "401", "409", "413", "415", "422"},
        ("/v1/pocs/{poc_id}", "get"): {"200", "400", "401", "404", "422"},
        ("/v1/pocs/{poc_id}", "patch"): {"200", "400", "401", "403", "404", "409", "413", "415", "422"},
        ("/v1/pocs/{poc_id}", "delete"): {"204", "400", "401", "403", "404", "422"},
        ("/v1/pocs/exports", "post"): {"201", "400", "401", "413", "415", "422", "429"},
        ("/v1/pocs/exports/{export_id}/items", "get"): {"200", "400", "404", "422"},
        ("/v1/pocs/exports/{export_id}", "delete"): {"204", "400", "404", "422"},
    }
    for (path, method), codes in expected.items():
        responses = document["paths"][path][method]["responses"]
        assert set(responses) == codes, (path, method)
        for code, response in responses.items():
            if code.startswith(("4", "5")):
                assert list(response["content"]) == ["application/problem+json"], (path, method, code)
