"""Identity over HTTP: tenants, sign-in, tokens, refresh rotation, policies and limits."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.conftest import OPERATOR_TOKEN
from tests.identity.harness import GOOD_PASSWORD, IdentityHarness

PROBLEM = "application/problem+json"


async def test_tenant_creation_needs_the_operator_token(identity: IdentityHarness) -> None:
    body = {"slug": "acme", "name": "ACME", "admin_email": "a@acme.com", "admin_password": GOOD_PASSWORD}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {OPERATOR_TOKEN}"}):
        response = await identity.http.post("/v1/tenants", json=body, headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
    created = await identity.http.post("/v1/tenants", json=body, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    assert created.status_code == 201
    assert set(created.json()) >= {"id", "slug", "name"}
    again = await identity.http.post("/v1/tenants", json=body, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    assert again.status_code == 409
    assert "acme" in again.json()["detail"]


async def test_login_me_and_token_shape(identity: IdentityHarness) -> None:
    admin = await identity.create_tenant("shape")
    me = await identity.http.get("/v1/auth/me", headers=admin.auth)
    assert me.status_code == 200
    assert me.json()["tenant"] == "shape"
    assert me.json()["email"] == admin.email
    assert set(me.json()["roles"]) == {"admin", "member"}
    # JSON body works as well as a form body.
    response = await identity.http.post(
        "/v1/auth/token",
        json={"grant_type": "password", "tenant": "shape", "username": admin.email, "password": GOOD_PASSWORD},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == identity.settings.access_token_ttl
    assert response.headers["cache-control"] == "no-store"


async def test_wrong_password_and_unknown_user_look_the_same(identity: IdentityHarness) -> None:
    admin = await identity.create_tenant()
    wrong = await identity.password_grant(admin.tenant, admin.email, "not the password at all")
    unknown = await identity.password_grant(admin.tenant, "nobody@example.com", "not the password at all")
    no_tenant = await identity.password_grant("no-such-tenant", admin.email, GOOD_PASSWORD)
    for response in (wrong, unknown, no_tenant):
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"
        assert response.json()["detail"] == "Unknown tenant, e-mail or password."


async def test_password_policy_messages(identity: IdentityHarness) -> None:
    admin = await identity.create_tenant("policy")

    async def create(email: str, password: str) -> tuple[int, dict[str, object]]:
        response = await identity.http.post(
            "/v1/users", json={"email": email, "password": password}, headers=admin.auth
        )
        return response.status_code, response.json()

    status, body = await create("short@policy.com", "abc123!")
    assert status == 422
    assert "at least 8 characters" in str(body["detail"])
    assert body["errors"][0]["field"] == "password"  # type: ignore[index]
    status, body = await create("common@policy.com", "password123")
    assert status == 422
    assert "most commonly used passwords" in str(body["detail"])
    status, body = await create("same@policy.com", "same@policy.com")
    assert status == 422
    long_password = "a long passphrase with spaces and ümlauts " * 2
    assert len(long_password) >= 64
    status, body = await create("long@policy.com", long_password)
    assert status == 201, body
    await identity.login("policy", "long@policy.com", long_password)
    # Self-registration applies the same policy, and says so before it looks at the tenant.
    weak = await identity.http.post(
        "/v1/auth/register", json={"tenant": "no-such-tenant", "email": "x@y.com", "password": "password123"}
    )
    assert weak.status_code == 422 and "most commonly used passwords" in weak.json()["detail"]


async def test_stored_hash_is_argon2id_with_documented_parameters(identity: IdentityHarness, database) -> None:  # type: ignore[no-untyped-def]
    await identity.create_tenant("hashes")
    conn = await asyncpg.connect(database.owner)
    try:
        # The owner role is subject to FORCE RLS too: read through the tenant context.
        async with conn.transaction():
            tenant_id = await conn.fetchval("SELECT id FROM identity.tenants WHERE slug = 'hashes'")
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant_id))
            stored = await conn.fetchval("SELECT password_hash FROM identity.users")
    finally:
        await conn.close()
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


async def test_brute_force_gets_429_but_the_real_user_still_signs_in(identity: IdentityHarness) -> None:
    admin = await identity.create_tenant("brute")
    attacker = {"X-Forwarded-For": "203.0.113.66"}
    statuses = []
    for _ in range(identity.settings.login_max_failures_per_account_ip + 2):
        response = await identity.password_grant("brute", admin.email, "guess guess guess", headers=attacker)
        statuses.append(response.status_code)
    assert statuses[: identity.settings.login_max_failures_per_account_ip] == [400] * 5
    blocked = await identity.password_grant("brute", admin.email, GOOD_PASSWORD, headers=attacker)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    assert blocked.headers["content-type"] == PROBLEM
    # Even the right password is refused from the blocked address: no oracle while blocked.
    # The real user, from their own address, is not locked out.
    real = await identity.password_grant(
        "brute", admin.email, GOOD_PASSWORD, headers={"X-Forwarded-For": "198.51.100.7"}
    )
    assert real.status_code == 200


async def test_refresh_rotation_and_reuse_detection(identity: IdentityHarness) -> None:
    account = await identity.create_tenant("refresh")
    first = account.refresh_token
    rotated = await identity.http.post("/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": first})
    assert rotated.status_code == 200
    second = rotated.json()["refresh_token"]
    assert second != first
    me = await identity.http.get("/v1/auth/me", headers={"Authorization": f"Bearer {rotated.json()['access_token']}"})
    assert me.status_code == 200
    # The rotated-out token comes back: the whole family is revoked...
    reuse = await identity.http.post("/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": first})
    assert reuse.status_code == 400
    assert "already used" in reuse.json()["detail"]
    # ... so the legitimate newest token fails too.
    after = await identity.http.post("/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": second})
    assert after.status_code == 400
    assert after.json()["error"] == "invalid_grant"


async def test_revoke_stops_the_family(identity: IdentityHarness) -> None:
    account = await identity.create_tenant("revoke")
    response = await identity.http.post("/v1/auth/revoke", json={"token": account.refresh_token})
    assert response.status_code == 200
    refused = await identity.http.post(
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": account.refresh_token}
    )
    assert refused.status_code == 400
    # Unknown and malformed tokens are not an error (RFC 7009), and leak nothing.
    assert (await identity.http.post("/v1/auth/revoke", json={"token": "garbage"})).status_code == 200


async def test_tampered_refresh_tokens_are_refused(identity: IdentityHarness) -> None:
    account = await identity.create_tenant("tamper")
    prefix, tenant, token_id, secret = account.refresh_token.split(".")
    other = await identity.create_tenant("tamper2")
    variants = [
        f"{prefix}.{tenant}.{token_id}.{secret[:-2]}AA",
        f"{prefix}.{other.refresh_token.split('.')[1]}.{token_id}.{secret}",
        "rt1.not-a-uuid.x.y",
        "",
    ]
    for variant in variants:
        response = await identity.http.post(
            "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": variant}
        )
        assert response.status_code in (400, 422), variant
        assert response.headers["content-type"] == PROBLEM


async def test_discovery_documents(identity: IdentityHarness) -> None:
    jwks = (await identity.http.get("/.well-known/jwks.json")).json()
    assert jwks["keys"] and all(k["kty"] == "RSA" and k["alg"] == "RS256" for k in jwks["keys"])
    assert all("d" not in k for k in jwks["keys"])
    config = (await identity.http.get("/.well-known/openid-configuration")).json()
    assert config["issuer"] == identity.base
    assert config["jwks_uri"] == f"{identity.base}/.well-known/jwks.json"


async def test_parallel_guesses_get_no_more_password_checks_than_the_limit(identity: IdentityHarness) -> None:
    """40 guesses at once from one address: at most the limit reach the password check, the rest get 429
    before it (a refused guess answers 429, a checked one 400)."""
    admin = await identity.create_tenant("parallel")
    attacker = {"X-Forwarded-For": "203.0.113.40"}
    answers = await asyncio.gather(
        *(identity.password_grant("parallel", admin.email, f"guess number {i}", headers=attacker) for i in range(40))
    )
    statuses = sorted(r.status_code for r in answers)
    checked = [s for s in statuses if s != 429]
    assert set(statuses) <= {400, 429}, statuses
    assert 1 <= len(checked) <= identity.settings.login_max_failures_per_account_ip, statuses
    # The real user, from their own address, still signs in.
    assert (await identity.password_grant("parallel", admin.email, GOOD_PASSWORD)).status_code == 200


async def test_token_errors_are_in_oauth2_form(identity: IdentityHarness) -> None:
    """RFC 6749 §5.2: 400 with `error` and `error_description` (beside the problem members)."""
    cases = [
        ({"data": {"username": "a"}}, "invalid_request", "grant_type"),
        ({"data": {"grant_type": "client_credentials"}}, "unsupported_grant_type", "client_credentials"),
        ({"json": {"grant_type": "password", "tenant": "x"}}, "invalid_request", "password"),
        ({"data": {"grant_type": "refresh_token"}}, "invalid_request", "refresh_token"),
        ({"content": b"{oops", "headers": {"Content-Type": "application/json"}}, "invalid_request", "JSON"),
    ]
    for kwargs, error, mentioned in cases:
        response = await identity.http.post("/v1/auth/token", **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 400, (kwargs, response.text)
        body = response.json()
        assert body["error"] == error and mentioned in body["error_description"], body
        assert "None" not in body["error_description"]
        assert body["type"] == f"{identity.settings.public_url}/problems/{error.replace('_', '-')}"
    missing = (await identity.http.post("/v1/auth/token", data={"grant_type": "password"})).json()
    assert sorted(e["field"] for e in missing["errors"]) == ["password", "tenant", "username"]


async def test_revoke_takes_the_rfc7009_form_body(identity: IdentityHarness) -> None:
    account = await identity.create_tenant("revokeform")
    response = await identity.http.post(
        "/v1/auth/revoke", data={"token": account.refresh_token, "token_type_hint": "refresh_token"}
    )
    assert response.status_code == 200, response.text
    refused = await identity.http.post(
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": account.refresh_token}
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    again = await identity.login(account.tenant, account.email, account.password)
    assert (await identity.http.post("/v1/auth/revoke", json={"token": again.refresh_token})).status_code == 200
    missing = await identity.http.post("/v1/auth/revoke", data={"token_type_hint": "refresh_token"})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


async def test_the_caller_reads_its_tenant(identity: IdentityHarness) -> None:
    admin = await identity.create_tenant("ownco")
    member = await identity.add_user(admin, "dev@ownco.example.com")
    seen_by_admin = await identity.http.get("/v1/tenant", headers=admin.auth)
    assert seen_by_admin.status_code == 200, seen_by_admin.text
    tenant = seen_by_admin.json()
    assert tenant["id"] == admin.tenant_id and tenant["slug"] == "ownco" and tenant["name"] == "Tenant ownco"
    assert tenant["created_at"].endswith("Z") and tenant["self_signup"] is False and tenant["signup_domains"] == []
    seen_by_member = (await identity.http.get("/v1/tenant", headers=member.auth)).json()
    assert seen_by_member == {k: tenant[k] for k in ("id", "slug", "name", "created_at")}
    assert (await identity.http.get("/v1/tenant")).status_code == 401
    document = (await identity.http.get("/v1/auth/openapi.json")).json()
    assert "get" in document["paths"]["/v1/tenant"]


async def test_users_are_listed_in_creation_order_with_their_tenant(identity: IdentityHarness) -> None:
    admin = await identity.create_tenant("order")
    emails = [admin.email] + [f"user{i}@order.example.com" for i in range(7)]
    for email in emails[1:]:
        await identity.add_user(admin, email)
    listed: list[dict[str, str]] = []
    cursor = None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = (await identity.http.get("/v1/users", params=params, headers=admin.auth)).json()
        listed += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [u["email"] for u in listed] == emails
    assert {u["tenant"] for u in listed} == {"order"}
