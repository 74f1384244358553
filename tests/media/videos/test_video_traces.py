"""Issue 17: a video request and the job it queued are one trace, as for reports
(`tests/media/jobs/test_job_traces.py`): `POST /v1/videos` → the producer span → the worker's run, and the
run's read of the POC export under it."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from media.video_job import VIDEO_TASK
from tests.conftest import Traces, span_ancestors, wait_until
from tests.media.jobs.conftest import MediaHarness, worker
from tests.media.videos.conftest import catalogue, create, follow


async def test_a_video_request_and_its_job_are_one_trace(traces: Traces, media: MediaHarness) -> None:
    admin = await media.tenant()
    await catalogue(media, admin, 2)
    video = await create(media, admin)
    async with worker(media.settings):
        done = await follow(media, admin, video["id"], "done", "failed")
    assert done["status"] == "done", done

    def runs() -> list[ReadableSpan]:
        return [
            s
            for s in traces.finished()
            if s.name == f"process {VIDEO_TASK}" and (s.attributes or {}).get("pocdojo.video_id") == video["id"]
        ]

    async def ended() -> bool:
        return bool(runs())

    await wait_until(ended)
    (run,) = runs()
    in_trace = {s.context.span_id: s for s in traces.finished() if s.context.trace_id == run.context.trace_id}
    chain = span_ancestors(run, in_trace)
    assert (chain[0].name, chain[0].kind) == (f"send {VIDEO_TASK}", SpanKind.PRODUCER)
    assert (chain[-1].name, chain[-1].kind, chain[-1].parent) == ("POST /v1/videos", SpanKind.SERVER, None)
    (items,) = [s for s in in_trace.values() if s.name == "GET /v1/pocs/exports/{export_id}/items"]
    assert run in span_ancestors(items, in_trace)
