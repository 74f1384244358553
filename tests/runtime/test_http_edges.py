"""Every refusal is a precise 4xx problem+json: bad tokens, malformed bodies, wrong types, big bodies."""

from __future__ import annotations

import logging

import jwt
import pytest

from identity.keys import KeyRing
from tests.identity.harness import GOOD_PASSWORD, IdentityHarness
from tests.identity.tokens_corpus import EXPECTED_ERRORS, LocalTokenSpec, bad_token_corpus

PROBLEM = "application/problem+json"


async def test_bad_token_corpus_is_refused_with_401_problem(identity: IdentityHarness) -> None:
    admin = await identity.create_tenant("corpus")
    me = (await identity.http.get("/v1/auth/me", headers=admin.auth)).json()
    settings = identity.settings
    spec = LocalTokenSpec(
        KeyRing.load_or_create(settings.state_dir / "keys"),
        issuer=settings.issuer,
        audience=settings.auth_audience,
        client_id=settings.auth_client_ids[0],
        tenant_id=admin.tenant_id,
        tenant_slug="corpus",
        subject=me["id"],
        email=admin.email,
        session_id=jwt.decode(admin.access_token, options={"verify_signature": False})["sid"],
    )
    # The spec's good token really works, so each refusal below is down to its one defect.
    good = await identity.http.get("/v1/auth/me", headers={"Authorization": f"Bearer {spec.access_token()}"})
    assert good.status_code == 200
    corpus = bad_token_corpus(spec)
    assert {name for name, _ in corpus} >= {
        "alg_none",
        "hs256_with_public_key_pem",
        "expired",
        "not_yet_valid",
        "wrong_issuer",
        "id_token_as_access_token",
        "unknown_kid",
        "tampered_signature",
        "foreign_client_id",
        "jku_header",
    }
    for name, token in corpus:
        response = await identity.http.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert response.headers["content-type"] == PROBLEM, name
        assert response.headers["www-authenticate"].startswith("Bearer"), name
        body = response.json()
        assert body["status"] == 401 and body["detail"], name
        assert token not in response.text, name
        assert EXPECTED_ERRORS[name].__name__  # the verifier-level class is checked in tests/identity


async def test_missing_or_non_bearer_credentials(identity: IdentityHarness) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}):
        response = await identity.http.get("/v1/auth/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    ("content", "content_type", "status", "fragment"),
    [
        (b'{"tenant": "x", "email": ', "application/json", 400, "not valid JSON"),
        (b"\xff\xfe garbage", "application/json", 400, "not valid JSON"),
        (b'{"tenant": "x"}', "text/plain", 415, "application/json"),
        (b"tenant=x", "application/x-www-form-urlencoded", 415, "application/json"),
        (b"[1, 2, 3]", "application/json", 422, "body"),
        (b'{"tenant": 5, "email": [], "password": null}', "application/json", 422, "tenant"),
        (b'{"tenant": "x", "email": "a@b.co", "password": "p", "admin": true}', "application/json", 422, "admin"),
    ],
)
async def test_malformed_bodies_get_precise_answers(
    identity: IdentityHarness, content: bytes, content_type: str, status: int, fragment: str
) -> None:
    response = await identity.http.post("/v1/auth/register", content=content, headers={"Content-Type": content_type})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert fragment in response.text


async def test_token_endpoint_body_errors(identity: IdentityHarness) -> None:
    cases = [
        ({"content": b"grant_type=password", "headers": {"Content-Type": "text/plain"}}, 415),
        ({"content": b"{oops", "headers": {"Content-Type": "application/json"}}, 400),
        ({"json": {"grant_type": "client_credentials"}}, 400),
        ({"json": {"grant_type": "password", "tenant": "x"}}, 400),  # OAuth2's invalid_request
        ({"json": {"grant_type": "password", "tenant": 1, "username": "a", "password": "b"}}, 400),
        ({"data": {"grant_type": "refresh_token"}}, 400),
    ]
    for kwargs, status in cases:
        response = await identity.http.post("/v1/auth/token", **kwargs)  # type: ignore[arg-type]
        assert response.status_code == status, (kwargs, response.text)
        assert response.headers["content-type"] == PROBLEM


async def test_oversized_bodies_get_413(identity: IdentityHarness) -> None:
    big = b'{"tenant": "' + b"x" * (identity.settings.max_body_bytes + 10) + b'"}'
    response = await identity.http.post("/v1/auth/register", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 100_000

    streamed = await identity.http.post(
        "/v1/auth/register", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


async def test_unknown_routes_and_methods(identity: IdentityHarness) -> None:
    missing = await identity.http.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    wrong = await identity.http.delete("/v1/auth/token")
    assert wrong.status_code == 405 and wrong.headers["content-type"] == PROBLEM


async def test_logs_carry_ids_and_no_secrets(identity: IdentityHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    admin = await identity.create_tenant("logs")
    response = await identity.http.get("/v1/auth/me", headers={**admin.auth, "X-Request-ID": "req-logs-1"})
    assert response.headers["x-request-id"] == "req-logs-1"
    from runtime.logs import JsonFormatter

    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    text = "\n".join(lines)
    assert GOOD_PASSWORD not in text
    assert admin.access_token not in text and admin.refresh_token not in text
    request_lines = [line for line in lines if '"req-logs-1"' in line]
    assert request_lines and admin.tenant_id in request_lines[0]


def test_query_secrets_are_masked_in_log_lines() -> None:
    from runtime.logs import RedactQuerySecrets

    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5", "/v1/collab/room?ticket=eyJ0.c2ln&mode=x"),
        None,
    )
    assert RedactQuerySecrets().filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "WebSocket /v1/collab/room?ticket=***&mode=x" [accepted]'
