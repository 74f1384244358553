"""Readable logs: access lines in both formats, every route named, no terminal escapes in a line."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
import orjson
import pytest

from identity.app import create_app
from runtime.logs import JsonFormatter, TextFormatter
from runtime.settings import Settings
from tests.conftest import serve_app
from tests.identity.harness import IdentityHarness


def _access(caplog: pytest.LogCaptureFixture, route: str) -> logging.LogRecord:
    [record] = [r for r in caplog.records if r.getMessage() == "request" and getattr(r, "route", None) == route]
    return record


async def test_an_access_line_in_json_and_in_text(identity: IdentityHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pocdojo.http")
    assert (await identity.http.get("/v1/auth/openapi.json")).status_code == 200
    record = _access(caplog, "/v1/auth/openapi.json")
    line = orjson.loads(JsonFormatter().format(record))
    assert {
        "service": "identity",
        "method": "GET",
        "route": "/v1/auth/openapi.json",
        "status": 200,
    }.items() <= line.items()
    assert isinstance(line["duration_ms"], float)
    text = TextFormatter().format(record)
    assert re.search(r" INFO pocdojo\.http: request .*service=identity", text), text
    assert re.search(r"method=GET route=/v1/auth/openapi\.json status=200 duration_ms=[0-9.]+", text), text


async def test_docs_and_operational_routes_are_named(
    identity: IdentityHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pocdojo.http")
    for path in ("/v1/auth/docs", "/v1/auth/openapi.json", "/readyz"):
        assert (await identity.http.get(path)).status_code == 200, path
        _access(caplog, path)
    assert (await identity.http.get("/healthz")).status_code == 200
    await identity.http.get("/metrics")
    metrics = (await identity.http.get("/metrics")).text
    for route in ("/v1/auth/docs", "/v1/auth/openapi.json", "/readyz", "/healthz", "/metrics"):
        assert f'method="GET",route="{route}",service="identity",status="200"' in metrics, route
    # (The registry is the process's: other tests may have sent unknown paths, 404 and unmatched. None of
    # the paths above was unmatched: each answered 200.)
    assert 'route="unmatched",service="identity",status="200"' not in metrics


async def test_json_lines_carry_no_terminal_colours(make_settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    """uvicorn adds a coloured copy of some messages (`color_message`) for terminals: not in our lines."""
    caplog.set_level(logging.INFO)
    # uvicorn's own logger too: another test may have quietened it (levels are process-wide).
    caplog.set_level(logging.INFO, logger="uvicorn.error")

    def factory(base: str) -> Any:
        settings: Settings = make_settings(public_url=base)
        return create_app(settings)

    async with serve_app(factory) as base, httpx.AsyncClient(base_url=base) as http:
        await http.get("/healthz")
    coloured = [r for r in caplog.records if hasattr(r, "color_message")]
    assert coloured, "uvicorn logged no line with color_message: the test checks nothing"
    for formatter in (JsonFormatter(), TextFormatter()):
        lines = "\n".join(formatter.format(r) for r in caplog.records)
        assert "\x1b[" not in lines and "color_message" not in lines
