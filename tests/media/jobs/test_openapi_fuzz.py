"""The media service's OpenAPI document, fuzzed with schemathesis against the running service (the shared
`tests.openapi_fuzz` runner): no 5xx, and every answer conforms to the document."""

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

from tests.media.jobs.conftest import MediaHarness
from tests.openapi_fuzz import fuzz

EXAMPLES_PER_OPERATION = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


async def test_media_openapi_document_holds_under_fuzzing(media: MediaHarness) -> None:
    admin = await media.tenant()
    await media.catalogue(admin, 2)
    report = await media.create(admin, {"format": "csv", "locale": "en"})
    # Cancelled, so that a generated `?wait=` on it answers at once (a queued report would hold each case).
    assert (await media.http.delete(f"/v1/reports/{report['id']}", headers=admin.auth)).status_code == 204
    document: dict[str, Any] = json.loads(json.dumps(media.media_app.openapi()))
    reports_paths = {p for p in document["paths"] if p.startswith("/v1/reports")}
    assert reports_paths == {"/v1/reports", "/v1/reports/{report_id}", "/v1/reports/{report_id}/download"}
    document["paths"] = {p: v for p, v in document["paths"].items() if p in reports_paths}

    def targets(operation: Any) -> list[dict[str, Any] | None]:
        return [None, {"report_id": report["id"]}] if "{report_id}" in operation.path else [None]

    ran = await asyncio.to_thread(
        fuzz, media.base, document, admin.access_token, targets=targets, checks=CHECKS, examples=EXAMPLES_PER_OPERATION
    )
    assert all(count > 0 for count in ran.values()), ran
