"""Hot routes (`runtime.http.ServiceApp.add_hot_route`) answer exactly as the same handler does through
FastAPI's full stack: bodies, problem+json errors, request ids, access log, metrics, body limit."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from prometheus_client import REGISTRY

from runtime.errors import NotFound
from runtime.http import ServiceApp, create_service_app
from runtime.settings import Settings


async def things(request: Request) -> Response:
    """One handler, served hot at /v1/things and through FastAPI at /v1/cold."""
    mode = request.query_params.get("mode", "ok")
    if mode == "missing":
        raise NotFound("There is no such thing.")
    if mode == "invalid":
        raise RequestValidationError([{"loc": ("query", "mode"), "type": "invalid_mode", "msg": "bad mode"}])
    if mode == "boom":
        raise RuntimeError("a bug")
    return Response(content=b'{"mode":"ok"}', media_type="application/json", headers={"x-thing": "1"})


def build(make_settings: Callable[..., Settings], **overrides: object) -> ServiceApp:
    app = create_service_app(service="hot", title="hot", settings=make_settings(**overrides))
    # The handler reads `mode` itself: declared in the document, as every query parameter a route takes must be.
    declared = {"parameters": [{"name": "mode", "in": "query", "required": False, "schema": {"type": "string"}}]}
    app.get("/v1/things", openapi_extra=declared)(things)
    app.get("/v1/cold", openapi_extra=declared)(things)
    app.add_hot_route("GET", "/v1/things", things)
    return app


def requests_counted(route: str, status: int) -> float:
    labels = {"service": "hot", "method": "GET", "route": route, "status": str(status)}
    return REGISTRY.get_sample_value("pocdojo_http_requests_total", labels) or 0.0


@pytest.mark.parametrize("mode", ["ok", "missing", "invalid", "boom"])
async def test_a_hot_route_answers_as_the_full_stack_does(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    app = build(make_settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        cold = await http.get("/v1/cold", params={"mode": mode})
        before = requests_counted("/v1/things", cold.status_code)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="pocdojo.http"):
            hot = await http.get("/v1/things", params={"mode": mode}, headers={"X-Request-Id": "hot-1"})
    assert hot.status_code == cold.status_code == {"ok": 200, "missing": 404, "invalid": 422, "boom": 500}[mode]
    assert hot.headers["content-type"] == cold.headers["content-type"]
    body, expected = hot.json(), cold.json()
    if mode != "ok":
        assert body["instance"] == "/v1/things" and expected["instance"] == "/v1/cold"
        body.pop("instance"), expected.pop("instance")
    assert body == expected
    assert hot.headers["x-request-id"] == "hot-1"
    assert requests_counted("/v1/things", hot.status_code) == before + 1
    access = [r for r in caplog.records if r.getMessage() == "request"]
    assert [(r.__dict__["route"], r.__dict__["status"], r.__dict__["request_id"]) for r in access] == [
        ("/v1/things", hot.status_code, "hot-1")
    ]
    if mode == "boom":  # an unexpected error is logged with its traceback, never shown
        errors = [r for r in caplog.records if r.getMessage() == "unhandled error"]
        assert len(errors) == 1 and errors[0].exc_info is not None
        assert "a bug" not in hot.text


async def test_other_methods_and_paths_take_the_full_stack(make_settings: Callable[..., Settings]) -> None:
    app = build(make_settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        assert (await http.post("/v1/things")).status_code == 405
        slash = await http.get("/v1/things/")
        assert slash.status_code == 307 and slash.headers["location"].endswith("/v1/things")
        assert (await http.head("/v1/things")).status_code == 405  # as FastAPI answers a GET-only route


async def test_the_body_limit_still_applies(make_settings: Callable[..., Settings]) -> None:
    app = build(make_settings, max_body_bytes=1024)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        response = await http.request("GET", "/v1/things", content=b"x" * 2048)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_only_a_declared_route_can_be_made_hot(make_settings: Callable[..., Settings]) -> None:
    app = create_service_app(service="hot", title="hot", settings=make_settings())
    with pytest.raises(ValueError, match="must be declared"):
        app.add_hot_route("GET", "/v1/things", things)
    app.get("/v1/things/{thing}")(things)
    with pytest.raises(ValueError, match="must be declared"):
        app.add_hot_route("POST", "/v1/things/{thing}", things)
    with pytest.raises(ValueError, match="no path parameters"):
        app.add_hot_route("GET", "/v1/things/{thing}", things)


async def test_a_hot_request_never_enters_fastapis_stack(make_settings: Callable[..., Settings]) -> None:
    app = build(make_settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        assert (await http.get("/v1/things")).status_code == 200
        assert app.middleware_stack is None  # Starlette builds it on the first request it handles
        assert (await http.get("/v1/cold")).status_code == 200
        assert app.middleware_stack is not None


async def test_generated_request_ids_are_distinct_and_every_request_is_counted(
    make_settings: Callable[..., Settings],
) -> None:
    app = build(make_settings)
    before = requests_counted("/v1/things", 200)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        ids = [(await http.get(path)).headers["x-request-id"] for path in ("/v1/things", "/v1/things", "/v1/cold")]
    assert len(set(ids)) == 3
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert requests_counted("/v1/things", 200) == before + 2


async def test_a_hot_route_refuses_undeclared_parameters_as_the_full_stack_does(
    make_settings: Callable[..., Settings],
) -> None:
    app = build(make_settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        hot = await http.get("/v1/things", params={"mdoe": "ok"})
        cold = await http.get("/v1/cold", params={"mdoe": "ok"})
    assert hot.status_code == cold.status_code == 422
    assert hot.json()["errors"] == cold.json()["errors"]
    assert hot.json()["errors"][0]["message"].endswith("did you mean `mode`?")
