"""The media service's OpenAPI document for `/v1/videos`, fuzzed with schemathesis against the running service
(the shared `tests.openapi_fuzz` runner): no 5xx, and every answer conforms to the document."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.media.jobs.conftest import MediaHarness
from tests.media.jobs.test_openapi_fuzz import CHECKS, EXAMPLES_PER_OPERATION
from tests.media.videos.conftest import catalogue, create
from tests.openapi_fuzz import fuzz


async def test_videos_openapi_document_holds_under_fuzzing(media: MediaHarness) -> None:
    admin = await media.tenant()
    await catalogue(media, admin, 2)
    video = await create(media, admin)
    # Cancelled, so that a generated `?wait=` on it answers at once (a queued video would hold each case).
    assert (await media.http.delete(f"/v1/videos/{video['id']}", headers=admin.auth)).status_code == 204
    document: dict[str, Any] = json.loads(json.dumps(media.media_app.openapi()))
    videos_paths = {p for p in document["paths"] if p.startswith("/v1/videos")}
    assert videos_paths == {
        "/v1/videos",
        "/v1/videos/{video_id}",
        "/v1/videos/{video_id}/download",
        "/v1/videos/{video_id}/thumbnail",
        "/v1/videos/{video_id}/captions",
    }
    document["paths"] = {p: v for p, v in document["paths"].items() if p in videos_paths}

    def targets(operation: Any) -> list[dict[str, Any] | None]:
        return [None, {"video_id": video["id"]}] if "{video_id}" in operation.path else [None]

    ran = await asyncio.to_thread(
        fuzz, media.base, document, admin.access_token, targets=targets, checks=CHECKS, examples=EXAMPLES_PER_OPERATION
    )
    assert all(count > 0 for count in ran.values()), ran
