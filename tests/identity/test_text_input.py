"""Text a client sends is storable and identifiers have one form: NUL, out-of-range numbers, look-alike
e-mails and slugs, invisible characters in names — each a precise 422 (or the existing account's 409),
never a 500, and the connection stays usable."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import h11
import orjson
import pytest
from fastapi import Request

from runtime.db import Database
from runtime.http import create_service_app
from runtime.resources import database_startup
from runtime.root import request_root
from runtime.settings import Settings
from tests.conftest import OPERATOR_TOKEN, serve_app
from tests.identity.harness import GOOD_PASSWORD, IdentityHarness

PROBLEM = "application/problem+json"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
NUL = "\x00"


async def exchange(base: str, requests: list[tuple[str, str, dict[str, str], bytes]]) -> list[tuple[int, bytes]]:
    """Send `requests` one after another on ONE TCP connection (method, target, headers, body); the
    answers. A server that resets the connection after an answer fails the next request here."""
    url = urlsplit(base)
    assert url.hostname and url.port
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    conn = h11.Connection(h11.CLIENT)
    answers = []
    try:
        for method, target, headers, body in requests:
            fields = [("Host", url.netloc), ("Content-Length", str(len(body))), *headers.items()]
            writer.write(conn.send(h11.Request(method=method, target=target, headers=fields)))
            writer.write(conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage()))
            await writer.drain()
            status, content = 0, b""
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await reader.read(65536)
                    assert data, f"the server closed the connection during {method} {target}"
                    conn.receive_data(data)
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    content += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
            answers.append((status, content))
            assert conn.our_state is h11.DONE and conn.their_state is h11.DONE, (conn.our_state, conn.their_state)
            conn.start_next_cycle()
    finally:
        writer.close()
    return answers


def _json(body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[dict[str, str], bytes]:
    return {"Content-Type": "application/json", **(headers or {})}, orjson.dumps(body)


LOGIN = {"grant_type": "password", "tenant": "nul", "username": "admin@nul.example.com", "password": GOOD_PASSWORD}


@pytest.mark.parametrize(
    ("field", "value"),
    [("username", f"admin{NUL}@nul.example.com"), ("tenant", f"n{NUL}ul"), ("password", f"pass{NUL}word words")],
)
@pytest.mark.parametrize("encoding", ["form", "json"])
async def test_nul_in_the_token_request_is_an_oauth_invalid_request_and_the_connection_lives(
    identity: IdentityHarness, field: str, value: str, encoding: str
) -> None:
    await identity.create_tenant("nul")
    form = {**LOGIN, field: value}
    if encoding == "json":
        headers, body = _json(form)
    else:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        body = urllib.parse.urlencode(form).encode()
    (status, content), (after, _) = await exchange(
        identity.base, [("POST", "/v1/auth/token", headers, body), ("GET", "/healthz", {}, b"")]
    )
    assert status == 400, content  # OAuth2 (RFC 6749 §5.2): invalid_request, naming the field
    problem = orjson.loads(content)
    assert problem["error"] == "invalid_request" and problem["errors"][0]["field"] == field
    assert after == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/tenants", {"slug": f"a{NUL}b", "name": "T", "admin_email": "a@t.example.com"}),
        ("/v1/tenants", {"slug": "nul-name", "name": f"T{NUL}", "admin_email": "a@t.example.com"}),
        ("/v1/tenants", {"slug": "nul-admin", "name": "T", "admin_email": f"a{NUL}@t.example.com"}),
        ("/v1/tenants", {"slug": "nul-pw", "name": "T", "admin_email": "a@t.example.com", "admin_password": NUL}),
        ("/v1/users", {"email": f"u{NUL}@nul.example.com", "password": GOOD_PASSWORD}),
        ("/v1/auth/register", {"tenant": "nul", "email": f"u{NUL}@nul.example.com", "password": GOOD_PASSWORD}),
        ("/v1/auth/register", {"tenant": f"nul{NUL}", "email": "u@nul.example.com", "password": GOOD_PASSWORD}),
    ],
)
async def test_nul_in_identity_bodies_is_a_422(identity: IdentityHarness, path: str, body: dict[str, str]) -> None:
    admin = await identity.create_tenant("nul")
    auth = OPERATOR if path == "/v1/tenants" else admin.auth
    if path == "/v1/tenants":
        body = {"admin_password": GOOD_PASSWORD, **body}
    headers, content = _json(body, auth)
    (status, answer), (after, _) = await exchange(
        identity.base, [("POST", path, headers, content), ("GET", "/healthz", {}, b"")]
    )
    assert status == 422, answer
    assert after == 200
    patch = await identity.http.patch("/v1/tenant", json={"name": f"x{NUL}y"}, headers=admin.auth)
    assert patch.status_code == 422, patch.text


async def test_nul_in_a_revoke_request_is_an_oauth_invalid_request(identity: IdentityHarness) -> None:
    headers, content = _json({"token": f"rt1.{NUL}"})
    (status, answer), (after, _) = await exchange(
        identity.base, [("POST", "/v1/auth/revoke", headers, content), ("GET", "/healthz", {}, b"")]
    )
    assert status == 400 and orjson.loads(answer)["error"] == "invalid_request", answer
    assert after == 200


async def test_nul_in_any_query_string_is_a_422(identity: IdentityHarness) -> None:
    admin = await identity.create_tenant("nulq")
    for target in ("/v1/users?cursor=%00", "/v1/auth/me?x=a%00b", "/healthz?probe=%00"):
        response = await identity.http.get(target, headers=admin.auth)
        assert response.status_code == 422, (target, response.text)
        assert response.headers["content-type"] == PROBLEM


async def test_look_alike_emails_cannot_sit_beside_each_other(identity: IdentityHarness) -> None:
    admin = await identity.create_tenant("alike")
    await identity.add_user(admin, "m1@acme.test")
    for email, status in (
        ("ｍ1@acme.test", 409),  # full-width m: NFKC folds it to "m1@acme.test"
        ("M1@ACME.TEST", 409),
        ("m1@acme.test\u200b", 422),  # zero-width space
        ("m1\u202e@acme.test", 422),  # right-to-left override
        ("m 1@acme.test", 422),
    ):
        response = await identity.http.post(
            "/v1/users", json={"email": email, "password": GOOD_PASSWORD}, headers=admin.auth
        )
        assert response.status_code == status, (email, response.text)
    # The folded form signs in to the one account.
    assert (await identity.password_grant("alike", "ｍ1@ACME.test", GOOD_PASSWORD)).status_code == 200


async def test_slugs_are_folded_and_names_refuse_invisible_characters(identity: IdentityHarness) -> None:
    admin = await identity.create_tenant("folded")
    body = {"name": "Other", "admin_email": "x@folded.example.com", "admin_password": GOOD_PASSWORD}
    again = await identity.http.post("/v1/tenants", json={"slug": "ＦＯＬＤＥＤ", **body}, headers=OPERATOR)
    assert again.status_code == 409, again.text
    assert (await identity.password_grant("FOLDED", admin.email, GOOD_PASSWORD)).status_code == 200
    for bad in ("ACME\u202e", "AC\u200bME", "A\u2066CME", "\ufeffACME"):
        created = await identity.http.post("/v1/tenants", json={"slug": "fresh", **body, "name": bad}, headers=OPERATOR)
        assert created.status_code == 422, (bad, created.text)
        renamed = await identity.http.patch("/v1/tenant", json={"name": bad}, headers=admin.auth)
        assert renamed.status_code == 422, (bad, renamed.text)
    assert (
        await identity.http.patch("/v1/tenant", json={"name": "Açaí Ltda. 🚀"}, headers=admin.auth)
    ).status_code == 200


async def test_a_value_the_database_refuses_is_a_422_even_where_a_route_forgot_to_check(
    make_settings: Callable[..., Settings],
) -> None:
    """The safety net: a route that hands client input straight to PostgreSQL, unchecked, still answers
    422 for a NUL or an out-of-range number (asyncpg DataError), and the connection stays usable."""

    def factory(base: str) -> Any:
        app = create_service_app(
            service="careless", title="careless", settings=make_settings(), startup=[database_startup]
        )

        @app.post("/echo")
        async def echo(request: Request) -> dict[str, Any]:
            body = await request.json()
            db: Database = request_root(request).db
            value = await db.fetchval_global("SELECT $1::text || $2::bigint", body["text"], body["number"])
            return {"value": value}

        return app

    async with serve_app(factory) as base:
        answers = await exchange(
            base,
            [
                ("POST", "/echo", *_json({"text": "ok", "number": 7})),
                ("POST", "/echo", *_json({"text": f"a{NUL}b", "number": 7})),
                (
                    "POST",
                    "/echo",
                    {"Content-Type": "application/json"},
                    b'{"text": "ok", "number": 1' + b"0" * 30 + b"}",
                ),
                ("GET", "/healthz", {}, b""),
            ],
        )
    assert answers[0] == (200, b'{"value":"ok7"}')
    for status, content in answers[1:3]:
        assert status == 422, content
        assert orjson.loads(content)["errors"][0]["code"] == "unstorable_value"
    assert answers[3][0] == 200
