"""Issue 17: every metric the services export follows Prometheus's naming conventions and has bounded labels.

`pocdojo dev` (every service and a media worker in one fresh process) serves real traffic —
a report made by a worker, a 404 on an id path, an unknown path, a refused token, a method no client should
send — and the test reads `/metrics` over HTTP as a scraper would, then checks every family:
- names: `pocdojo_` then lower-case words; counters expose `_total`, nothing else ends in `_total`;
- units: base units only (`_seconds`, `_bytes`), as the last word of any histogram and of any
  time-like gauge; never `_ms`, `_minutes`, `_kb`, `_percent`...;
- labels: only names from `BOUNDED_LABELS` (each with a fixed or code-defined value set), never an id, a
  path or a user-chosen word; values that look like ids are refused whatever the label.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from deploy.aws import metric_names
from deploy.services import SERVICES
from runtime.http import METHODS
from tests.conftest import wait_until
from tests.deploy.test_cli import signed_in_dev

BOUNDED_LABELS: dict[str, Callable[[str], bool] | None] = {
    "service": lambda v: v in SERVICES,
    "method": lambda v: v in METHODS or v == "_OTHER",
    "route": lambda v: v == "unmatched" or v.startswith("/"),
    "status": lambda v: re.fullmatch(r"[1-5][0-9][0-9]", v) is not None,
    "final": lambda v: v in ("true", "false"),
    "kind": None,  # a fixed word per job or event kind (media: report_pdf, report_csv)
    "outcome": None,  # fixed words
    "reason": None,  # refusal codes the code defines
    "type": None,  # documented message types, `unknown` for any other
    "error": None,  # an exception class name
    "code": lambda v: v.isdigit() or v == "other",  # documented WebSocket close codes
    "operation": None,  # a store operation: load, append, compact
}
"""Label names a metric may have, with a check of their values where one is exact."""

STANDARD_PREFIXES = ("python_", "process_")
"""prometheus_client's own collectors (their names are the library's)."""

NON_BASE_UNITS = re.compile(
    r"_(ms|millis|milliseconds|microseconds|us|minutes|hours|days|kb|kib|mb|mib|gb|percent|pct)(_|$)"
)
TIME_WORDS = re.compile(r"_(age|duration|latency|delay|time|elapsed)(_|$)")
LOOKS_LIKE_AN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-|[0-9]{6,}|[0-9a-f]{16,}", re.IGNORECASE)


def _problems(exposition: str) -> list[str]:
    problems: list[str] = []
    families = list(text_string_to_metric_families(exposition))
    timed = {f.name for f in families if f.type in ("counter", "histogram", "summary")}
    for family in families:
        name, kind = family.name, family.type
        if name.startswith(STANDARD_PREFIXES) or (name.endswith("_created") and name[: -len("_created")] in timed):
            continue  # the library's collectors; the creation time the text format shows as a gauge beside each
        if not re.fullmatch(r"pocdojo_[a-z][a-z0-9]*(_[a-z0-9]+)*", name):
            problems.append(f"{name}: not `pocdojo_` and lower-case words")
        if not family.documentation.strip():
            problems.append(f"{name}: no HELP text")
        if NON_BASE_UNITS.search(name):
            problems.append(f"{name}: not in base units (seconds, bytes)")
        if kind != "counter" and name.endswith("_total"):
            problems.append(f"{name}: a {kind} named like a counter")
        if kind == "histogram" and not name.endswith(("_seconds", "_bytes")):
            problems.append(f"{name}: a histogram without its unit (_seconds, _bytes) last")
        if kind == "gauge" and TIME_WORDS.search(name) and not name.endswith("_seconds"):
            problems.append(f"{name}: a time without `_seconds` last")
        for sample in family.samples:
            if kind == "counter" and not sample.name.endswith(("_total", "_created")):
                problems.append(f"{sample.name}: a counter's series without `_total`")
            for label, value in sample.labels.items():
                if kind == "histogram" and label == "le":
                    continue
                if label not in BOUNDED_LABELS:
                    problems.append(f"{name}: label {label!r} is not one of the bounded labels")
                    continue
                check = BOUNDED_LABELS[label]
                if (check is not None and not check(value)) or LOOKS_LIKE_AN_ID.search(value):
                    problems.append(f"{name}: {label}={value!r} is not a bounded value")
    return problems


async def test_every_exported_metric_follows_the_conventions(server_dir: Path) -> None:
    async with signed_in_dev(server_dir) as (http, auth):
        created = await http.post("/v1/reports", json={"format": "csv", "locale": "en"}, headers=auth)
        assert created.status_code == 202, created.text
        report_id = created.json()["id"]

        async def done() -> bool:
            report = (await http.get(f"/v1/reports/{report_id}", params={"wait": 5}, headers=auth)).json()
            return bool(report["status"] == "done")

        await wait_until(done, within=60, interval=0)
        unknown = "0b6f3c1e-8a1d-4c55-9d1e-3f7e2a9b4c10"
        assert (await http.get(f"/v1/reports/{unknown}", headers=auth)).status_code == 404
        assert (await http.get(f"/v1/no-such-thing/{unknown}")).status_code == 404
        assert (await http.get("/v1/pocs", headers={"Authorization": "Bearer nonsense"})).status_code == 401
        odd = await http.request("PROPFIND", "/v1/pocs", headers=auth)  # WebDAV: parsed, not ours
        assert 400 <= odd.status_code < 500
        response = await http.get("/metrics")
    assert response.status_code == 200
    exposition = response.text
    families = {f.name for f in text_string_to_metric_families(exposition)}
    for name, exported in metric_names.EXPORTED.items():
        if exported:  # the names the deployment's alarms and scaling read
            assert name.removesuffix("_total") in families, name
    assert 'route="/v1/reports/{report_id}"' in exposition
    assert 'method="_OTHER"' in exposition
    assert _problems(exposition) == []


def test_the_checks_catch_what_they_describe() -> None:
    """The rules above, each shown a metric that breaks it."""
    broken = """
# HELP pocdojo_jobs_ms job time
# TYPE pocdojo_jobs_ms histogram
pocdojo_jobs_ms_bucket{le="+Inf"} 1.0
pocdojo_jobs_ms_count 1.0
pocdojo_jobs_ms_sum 1.0
# HELP pocdojo_waiting_total waiting jobs
# TYPE pocdojo_waiting_total gauge
pocdojo_waiting_total 1.0
# HELP pocdojo_queue_age oldest job
# TYPE pocdojo_queue_age gauge
pocdojo_queue_age 1.0
# HELP pocdojo_requests_total requests
# TYPE pocdojo_requests_total counter
pocdojo_requests_total{path="/v1/reports/0b6f3c1e-8a1d-4c55-9d1e-3f7e2a9b4c10"} 1.0
pocdojo_requests_total{method="BREW"} 1.0
pocdojo_requests_total{reason="user-123456"} 1.0
"""
    assert _problems(broken) == [
        "pocdojo_jobs_ms: not in base units (seconds, bytes)",
        "pocdojo_jobs_ms: a histogram without its unit (_seconds, _bytes) last",
        "pocdojo_waiting_total: a gauge named like a counter",
        "pocdojo_queue_age: a time without `_seconds` last",
        "pocdojo_requests: label 'path' is not one of the bounded labels",
        "pocdojo_requests: method='BREW' is not a bounded value",
        "pocdojo_requests: reason='user-123456' is not a bounded value",
    ]
