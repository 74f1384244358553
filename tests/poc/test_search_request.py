"""GET /v1/pocs reads its parameters and its caller itself (not through FastAPI's dependency machinery):
it must answer exactly as the routes that use `CurrentPrincipal` and FastAPI's parameter validation do."""

from __future__ import annotations

from typing import Any

import pytest

from tests.poc.conftest import PROBLEM, PocHarness, poc_fields

BAD_AUTHORIZATIONS: list[dict[str, str]] = [
    {},
    {"Authorization": ""},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer \t x"},
    {"Authorization": "bearer not-a-token"},
    {"Authorization": "Bearer not.a.token"},
    {"Authorization": "Token abc"},
]


def _comparable(response: Any) -> tuple[int, str, str, dict[str, Any]]:
    body = response.json()
    body.pop("instance", None)
    return response.status_code, response.headers["content-type"], response.headers.get("www-authenticate", ""), body


@pytest.mark.parametrize("headers", BAD_AUTHORIZATIONS)
async def test_the_caller_is_refused_as_by_the_other_routes(pocs: PocHarness, headers: dict[str, str]) -> None:
    admin = await pocs.tenant()
    poc = await pocs.create(admin, **poc_fields(1))
    search = await pocs.http.get("/v1/pocs", params={"limit": 0}, headers=headers)  # 401 before 422, as before
    read = await pocs.http.get(f"/v1/pocs/{poc['id']}", headers=headers)  # a route with `CurrentPrincipal`
    assert search.status_code == 401
    assert _comparable(search) == _comparable(read)


async def test_limit_is_checked_as_fastapi_checks_typed_parameters(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    for limit, code in (("abc", "wrong_type"), ("1.5", "wrong_type"), ("0", "out_of_range")):
        response = await pocs.search(admin, limit=limit, q="de para")  # q is invalid too: limit alone is reported
        assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
        body = response.json()
        assert body["type"].endswith("/problems/validation") and body["title"] == "Validation failed"
        assert [(e["field"], e["code"]) for e in body["errors"]] == [("limit", code)]
    ok = await pocs.search(admin, limit=" 7 ")
    assert ok.status_code == 200


async def test_repeated_parameters(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    await pocs.create(admin, **poc_fields(1, name="Alfa pagamentos", language="Go", tags=["pix", "payments"]))
    await pocs.create(admin, **poc_fields(2, name="Beta pagamentos", language="Python", tags=["pix"]))
    # Of a repeated parameter the last value counts; every `tag` counts.
    response = await pocs.http.get(
        "/v1/pocs?language=Python&language=Go&tag=pix&tag=payments&q=beta&q=alfa", headers=admin.auth
    )
    assert response.status_code == 200
    assert [p["name"] for p in response.json()["items"]] == ["Alfa pagamentos"]
    unknown = await pocs.http.get("/v1/pocs?colour=blue&limit=1", headers=admin.auth)  # refused, not ignored
    assert unknown.status_code == 422
    assert [(e["field"], e["code"]) for e in unknown.json()["errors"]] == [("colour", "unknown_parameter")]
