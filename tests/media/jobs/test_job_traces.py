"""Issue 17: a report request and the job it queued are one trace — the media API's server span, the
producer span that stored the trace with the job, the worker's span for the run, and the calls to the POC
and identity services on both sides (each service's server span a child of the caller's client span,
through `traceparent`). The services run behind one real uvicorn; the worker runs in the test's process."""

from __future__ import annotations

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from media.queue import REPORT_TASK
from tests.conftest import Traces, span_ancestors, wait_until
from tests.media.jobs.conftest import MediaHarness, worker


def _values(span: ReadableSpan) -> list[str]:
    return [str(value) for value in (span.attributes or {}).values()]


async def test_a_report_request_and_its_job_are_one_trace(traces: Traces, media: MediaHarness) -> None:
    admin = await media.tenant()
    await media.catalogue(admin, 3)
    report = await media.create(admin, {"format": "csv", "locale": "en"})
    async with worker(media.settings):
        done = await media.follow(admin, report["id"], "done", "failed")
    assert done["status"] == "done", done

    def run_spans() -> list[ReadableSpan]:
        return [
            s
            for s in traces.finished()
            if s.name == f"process {REPORT_TASK}" and (s.attributes or {}).get("pocdojo.report_id") == report["id"]
        ]

    async def run_ended() -> bool:
        return bool(run_spans())

    await wait_until(run_ended)
    (run,) = run_spans()
    assert run.kind == SpanKind.CONSUMER
    trace_id = run.context.trace_id
    in_trace = [s for s in traces.finished() if s.context.trace_id == trace_id]
    by_id = {s.context.span_id: s for s in in_trace}

    # The worker's run descends from the request: run → producer span → the media API's server span (the root).
    chain = span_ancestors(run, by_id)
    assert (chain[0].name, chain[0].kind) == (f"send {REPORT_TASK}", SpanKind.PRODUCER)
    request = chain[-1]
    assert (request.name, request.kind) == ("POST /v1/reports", SpanKind.SERVER)
    assert request.parent is None
    assert (request.attributes or {})["http.response.status_code"] == 202
    assert (chain[0].attributes or {})["messaging.message.id"] == str(await media.job_id(report["id"]))

    def served(name: str) -> list[ReadableSpan]:
        return [s for s in in_trace if s.name == name and s.kind == SpanKind.SERVER]

    # The API's calls: the POC service froze the search, identity named the caller — each a server span whose
    # parent is the media service's client span, under the request.
    for name in ("POST /v1/pocs/exports", "GET /v1/auth/me"):
        (callee,) = served(name)
        caller = span_ancestors(callee, by_id)
        assert caller[0].kind == SpanKind.CLIENT, name
        assert caller[-1] is request, name
    # The worker's calls: it read the export's items and deleted the export, under the run's span.
    for name in ("GET /v1/pocs/exports/{export_id}/items", "DELETE /v1/pocs/exports/{export_id}"):
        (callee,) = served(name)
        assert run in span_ancestors(callee, by_id), name
    # PostgreSQL: the API's queries under the request, the run's under the run.
    queries = [s for s in in_trace if s.kind == SpanKind.CLIENT and "db.system" in (s.attributes or {})]
    assert any(request in span_ancestors(q, by_id) and run not in span_ancestors(q, by_id) for q in queries)
    assert any(run in span_ancestors(q, by_id) for q in queries)
    # Server spans name and describe the route, never the path: the long-polls of this report's URL included.
    for span in traces.finished():
        if span.kind == SpanKind.SERVER:
            assert report["id"] not in " ".join([span.name, *_values(span)]), span.name


async def test_request_spans_keep_no_capability_from_the_path(traces: Traces, media: MediaHarness) -> None:
    """The local store's download links carry a signed token in their path: a trace must not keep it."""
    admin = await media.tenant()
    await media.catalogue(admin, 1)
    report = await media.create(admin, {"format": "csv", "locale": "en"})
    async with worker(media.settings):
        await media.follow(admin, report["id"], "done")
    redirect = await media.http.get(f"/v1/reports/{report['id']}/download", headers=admin.auth)
    link = httpx.URL(redirect.headers["location"])
    async with httpx.AsyncClient() as anonymous:
        assert (await anonymous.get(link)).status_code == 200
    token = link.path.rsplit("/", 1)[-1]

    def downloads() -> list[ReadableSpan]:
        return [s for s in traces.finished() if s.kind == SpanKind.SERVER and "/v1/media/files" in s.name]

    async def served() -> bool:
        return any(token not in s.name for s in downloads())

    await wait_until(served)
    for span in traces.finished():
        assert all(token not in value for value in _values(span)), span.name
        assert token not in span.name
