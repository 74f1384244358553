"""Every HTTP response carries the security headers (hot route, problem+json errors, a 500, the docs page),
HSTS only over TLS; `/metrics` answers nobody on the public port in production without its token."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from runtime.http import ServiceApp
from runtime.settings import Settings
from tests.identity.harness import IdentityHarness
from tests.runtime.test_hot_routes import build

API_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
}
HSTS = "strict-transport-security"


def assert_api_headers(response: httpx.Response) -> None:
    for name, value in API_HEADERS.items():
        assert response.headers.get_list(name) == [value], (response.request.url, name)


async def test_every_answer_of_the_app_carries_them(make_settings: Callable[..., Settings]) -> None:
    app = build(make_settings, max_body_bytes=1024)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answers = {
            "hot": await http.get("/v1/things"),
            "hot problem": await http.get("/v1/things", params={"mode": "missing"}),
            "hot 500": await http.get("/v1/things", params={"mode": "boom"}),
            "cold": await http.get("/v1/cold"),
            "cold 422": await http.get("/v1/cold", params={"mode": "invalid"}),
            "cold 500": await http.get("/v1/cold", params={"mode": "boom"}),
            "no route": await http.get("/v1/nothing"),
            "405": await http.post("/v1/cold"),
            "413": await http.request("GET", "/v1/cold", content=b"x" * 2048),
            "openapi": await http.get("/openapi.json"),
            "health": await http.get("/healthz"),
        }
        docs = await http.get("/docs")
    assert [(k, r.status_code) for k, r in answers.items()] == [
        ("hot", 200),
        ("hot problem", 404),
        ("hot 500", 500),
        ("cold", 200),
        ("cold 422", 422),
        ("cold 500", 500),
        ("no route", 404),
        ("405", 405),
        ("413", 413),
        ("openapi", 200),
        ("health", 200),
    ]
    for response in answers.values():
        assert_api_headers(response)
        assert HSTS not in response.headers  # plain http: a browser would ignore it, a dev host must not be pinned
    # The docs page loads Swagger UI's script and styles: it may load them, but is never framed.
    assert docs.status_code == 200 and "swagger-ui" in docs.text
    assert docs.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert docs.headers["x-frame-options"] == "DENY" and docs.headers["x-content-type-options"] == "nosniff"


async def test_hsts_only_when_the_request_came_over_tls(make_settings: Callable[..., Settings]) -> None:
    direct = build(make_settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=direct), base_url="https://test") as http:
        over_tls = await http.get("/v1/things")
        # No trusted proxy: a client's own X-Forwarded-Proto proves nothing, but the TLS connection does.
        assert over_tls.headers[HSTS] == "max-age=31536000; includeSubDomains"
        assert_api_headers(over_tls)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=direct), base_url="http://test") as http:
        assert HSTS not in (await http.get("/v1/things", headers={"X-Forwarded-Proto": "https"})).headers

    behind_alb = build(make_settings, trusted_proxy_hops=1)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=behind_alb), base_url="http://test") as http:
        for proto, expected in [("https", True), ("http", False), ("https, http", False), ("http, https", True)]:
            for path in ("/v1/things", "/v1/cold", "/v1/nothing"):
                response = await http.get(path, headers={"X-Forwarded-Proto": proto})
                assert (HSTS in response.headers) is expected, (proto, path)
        assert HSTS not in (await http.get("/v1/things")).headers


async def test_a_real_service_sends_them_on_problems(identity: IdentityHarness) -> None:
    """Through uvicorn: the identity service's 401 problem and its JWKS, behind the fixture's one proxy."""
    refused = await identity.http.get("/v1/auth/me", headers={"X-Forwarded-Proto": "https"})
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    assert_api_headers(refused)
    assert HSTS in refused.headers
    jwks = await identity.http.get("/.well-known/jwks.json")
    assert_api_headers(jwks)
    assert HSTS not in jwks.headers


# -- /metrics -------------------------------------------------------------------------------------------


async def _metrics(app: ServiceApp, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        await http.get("/v1/things")
        return await http.get("/metrics", headers=headers)


async def test_production_metrics_are_not_public_without_a_token(make_settings: Callable[..., Settings]) -> None:
    response = await _metrics(build(make_settings, env="production"))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "pocdojo_http_requests_total" not in response.text
    assert_api_headers(response)


@pytest.mark.parametrize("env", ["production", "dev"])
async def test_a_metrics_token_opens_them(make_settings: Callable[..., Settings], env: str) -> None:
    app = build(make_settings, env=env, metrics_token="scrape-" + "s3cret" * 6)
    for headers in (
        None,
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Bearer scrape-"},
        {"Authorization": "Basic " + "scrape-" + "s3cret" * 6},
    ):
        refused = await _metrics(app, headers)
        assert refused.status_code == 401, headers
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert "pocdojo_http_requests_total" not in refused.text
    allowed = await _metrics(app, {"Authorization": "Bearer scrape-" + "s3cret" * 6})
    assert allowed.status_code == 200
    assert 'pocdojo_http_requests_total{method="GET",route="/v1/things",service="hot",status="200"}' in allowed.text


async def test_dev_and_test_metrics_stay_open_without_a_token(make_settings: Callable[..., Settings]) -> None:
    for env in ("dev", "test"):
        response = await _metrics(build(make_settings, env=env))
        assert response.status_code == 200 and "pocdojo_http_requests_total" in response.text
