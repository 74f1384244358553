"""Who may join a tenant (issue 11 #1): self-signup off by default; when on, limited to the listed e-mail
domains; invitations an administrator creates, bound to their tenant (and address), used once, expiring;
every refusal answers like a success; registration is rate-limited per address."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx

from deploy.local import DatabaseUrls
from identity.app import create_app
from identity.passwords import PasswordHasher
from identity.services import services_of as identity_services
from runtime import migrations
from runtime.settings import Settings
from tests.conftest import OPERATOR_TOKEN, serve_app
from tests.identity.harness import GOOD_PASSWORD, Account, IdentityHarness

IDENTITY = migrations.ServiceSchema("identity", "identity")


async def _register(
    identity: IdentityHarness, tenant: str, email: str, address: str = "192.0.2.1", **extra: Any
) -> httpx.Response:
    return await identity.http.post(
        "/v1/auth/register",
        json={"tenant": tenant, "email": email, "password": GOOD_PASSWORD, **extra},
        headers={"X-Forwarded-For": address},
    )


async def _can_sign_in(identity: IdentityHarness, tenant: str, email: str) -> bool:
    response = await identity.password_grant(tenant, email, GOOD_PASSWORD, headers={"X-Forwarded-For": "192.0.2.99"})
    assert response.status_code in (200, 400), response.text
    return response.status_code == 200


async def _invite(identity: IdentityHarness, admin: Account, **body: Any) -> dict[str, Any]:
    response = await identity.http.post("/v1/invitations", json=body, headers=admin.auth)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_a_new_tenant_is_closed_to_strangers(identity: IdentityHarness) -> None:
    await identity.create_tenant("acme")
    stranger = await _register(identity, "acme", "stranger@evil.example")
    assert stranger.status_code == 202, stranger.text
    assert not await _can_sign_in(identity, "acme", "stranger@evil.example")


async def test_refusals_answer_exactly_like_a_success(identity: IdentityHarness) -> None:
    admin = await identity.create_tenant("open")
    await identity.create_tenant("closed")
    on = await identity.http.patch(
        "/v1/tenant", json={"self_signup": True, "signup_domains": ["Open.Example"]}, headers=admin.auth
    )
    assert on.status_code == 200 and on.json()["signup_domains"] == ["open.example"]
    answers = {
        "created": await _register(identity, "open", "new@open.example"),
        "unknown tenant": await _register(identity, "no-such-tenant", "new@open.example"),
        "signup off": await _register(identity, "closed", "new@closed.example.com"),
        "wrong domain": await _register(identity, "open", "new@elsewhere.example"),
        "existing e-mail": await _register(identity, "open", admin.email.upper()),
        "bad invitation": await _register(identity, "closed", "x@closed.example.com", invitation="inv1.guess"),
    }
    first = answers["created"]
    for reason, answer in answers.items():
        assert (answer.status_code, answer.json(), answer.headers["content-type"]) == (
            first.status_code,
            first.json(),
            first.headers["content-type"],
        ), reason
    assert first.status_code == 202
    assert await _can_sign_in(identity, "open", "new@open.example")
    assert not await _can_sign_in(identity, "closed", "new@closed.example.com")
    assert not await _can_sign_in(identity, "open", "new@elsewhere.example")


async def test_only_an_admin_opens_signup_and_an_empty_domain_list_means_any_address(identity: IdentityHarness) -> None:
    admin = await identity.create_tenant("switch")
    member = await identity.add_user(admin, "m@switch.example.com")
    assert (await identity.http.patch("/v1/tenant", json={"self_signup": True}, headers=member.auth)).status_code == 403
    bad = await identity.http.patch("/v1/tenant", json={"signup_domains": ["not a domain"]}, headers=admin.auth)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "signup_domains.0"
    on = await identity.http.patch("/v1/tenant", json={"self_signup": True}, headers=admin.auth)
    assert on.json() | {"id": ""} == {
        "id": "",
        "slug": "switch",
        "name": "Tenant switch",
        "self_signup": True,
        "signup_domains": [],
    }
    assert (await _register(identity, "switch", "anyone@anywhere.example")).status_code == 202
    assert await _can_sign_in(identity, "switch", "anyone@anywhere.example")
    off = await identity.http.patch("/v1/tenant", json={"self_signup": False}, headers=admin.auth)
    assert off.json()["self_signup"] is False
    await _register(identity, "switch", "late@anywhere.example")
    assert not await _can_sign_in(identity, "switch", "late@anywhere.example")


async def test_invitations_are_bound_single_use_and_withdrawable(identity: IdentityHarness) -> None:
    admin = await identity.create_tenant("inv")
    other = await identity.create_tenant("inv-other")
    member = await identity.add_user(admin, "member@inv.example.com")
    assert (await identity.http.post("/v1/invitations", json={}, headers=member.auth)).status_code == 403
    assert (await identity.http.get("/v1/invitations", headers=member.auth)).status_code == 403

    open_code = await _invite(identity, admin, role="admin", expires_in=3600)
    bound = await _invite(identity, admin, email="Bound@Inv.example.com")
    assert open_code["code"].startswith("inv1.") and open_code["status"] == "pending"
    assert open_code["roles"] == ["admin", "member"] and bound["roles"] == ["member"]
    assert bound["email"] == "bound@inv.example.com"

    # Bound to its tenant: the code does nothing elsewhere.
    await _register(identity, "inv-other", "guest@inv.example.com", invitation=open_code["code"])
    assert not await _can_sign_in(identity, "inv-other", "guest@inv.example.com")
    # An address that already has an account does not use it up.
    await _register(identity, "inv", admin.email, invitation=open_code["code"])
    # Works with self-signup off; gives the invitation's roles; then it is used.
    await _register(identity, "inv", "guest@inv.example.com", invitation=open_code["code"])
    guest = await identity.login("inv", "guest@inv.example.com", GOOD_PASSWORD)
    assert set((await identity.http.get("/v1/auth/me", headers=guest.auth)).json()["roles"]) == {"admin", "member"}
    await _register(identity, "inv", "second@inv.example.com", invitation=open_code["code"])
    assert not await _can_sign_in(identity, "inv", "second@inv.example.com")

    # Bound to an address: another address cannot use it, the right one (in any case) can.
    await _register(identity, "inv", "thief@inv.example.com", invitation=bound["code"])
    assert not await _can_sign_in(identity, "inv", "thief@inv.example.com")
    await _register(identity, "inv", "BOUND@inv.example.com", invitation=bound["code"])
    assert await _can_sign_in(identity, "inv", "bound@inv.example.com")

    listed = (await identity.http.get("/v1/invitations", headers=admin.auth)).json()["items"]
    assert {i["id"]: i["status"] for i in listed} == {open_code["id"]: "used", bound["id"]: "used"}
    assert all("code" not in i for i in listed)

    # Withdrawn: the code stops working; another tenant's admin cannot withdraw it.
    withdrawn = await _invite(identity, admin)
    assert (await identity.http.delete(f"/v1/invitations/{withdrawn['id']}", headers=other.auth)).status_code == 404
    assert (await identity.http.delete(f"/v1/invitations/{withdrawn['id']}", headers=admin.auth)).status_code == 204
    await _register(identity, "inv", "after@inv.example.com", invitation=withdrawn["code"])
    assert not await _can_sign_in(identity, "inv", "after@inv.example.com")
    for body in ({"expires_in": 10}, {"expires_in": 31 * 86_400}, {"role": "owner"}, {"email": "not-an-email"}):
        assert (await identity.http.post("/v1/invitations", json=body, headers=admin.auth)).status_code == 422, body


async def test_an_expired_invitation_is_refused(identity: IdentityHarness, database: DatabaseUrls) -> None:
    admin = await identity.create_tenant("expiry")
    invitation = await _invite(identity, admin, expires_in=300)
    conn = await asyncpg.connect(database.owner)
    try:  # five minutes pass
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", admin.tenant_id)
            await conn.execute("UPDATE identity.invitations SET expires_at = now() - interval '1 second'")
    finally:
        await conn.close()
    assert (await identity.http.get("/v1/invitations", headers=admin.auth)).json()["items"][0]["status"] == "expired"
    await _register(identity, "expiry", "late@expiry.example.com", invitation=invitation["code"])
    assert not await _can_sign_in(identity, "expiry", "late@expiry.example.com")


async def test_registration_is_rate_limited_per_address(identity: IdentityHarness) -> None:
    await identity.create_tenant("limited")
    limit = identity.settings.register_max_per_ip
    for i in range(limit):
        answer = await _register(identity, "limited", f"p{i}@limited.example.com", address="198.51.100.9")
        assert answer.status_code == 202, (i, answer.text)
    blocked = await _register(identity, "limited", "one-more@limited.example.com", address="198.51.100.9")
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    assert (
        await _register(identity, "limited", "elsewhere@limited.example.com", address="198.51.100.10")
    ).status_code == 202


async def test_tenant_creation_defaults_to_closed(identity: IdentityHarness) -> None:
    created = await identity.http.post(
        "/v1/tenants",
        json={"slug": "fresh", "name": "Fresh", "admin_email": "a@fresh.example.com", "admin_password": GOOD_PASSWORD},
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
    )
    assert created.status_code == 201
    assert created.json()["self_signup"] is False and created.json()["signup_domains"] == []


async def test_migration_closes_existing_tenants_and_rolls_back(database: DatabaseUrls) -> None:
    conn = await asyncpg.connect(database.owner)
    try:
        # Back to just before 0002, whatever came after it.
        since_2 = [m.version for m in IDENTITY.migrations() if m.version >= 2]
        assert await migrations.downgrade(conn, IDENTITY, steps=len(since_2)) == since_2[::-1]
        assert await conn.fetchval("SELECT to_regclass('identity.invitations')") is None
        old = "00000000-0000-4000-8000-000000000001"
        async with conn.transaction():  # a tenant created while signup defaulted to on
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", old)
            await conn.execute(
                "INSERT INTO identity.tenants (id, slug, name) VALUES ($1, 'old', 'Old')", uuid.UUID(old)
            )
        assert await migrations.upgrade(conn, IDENTITY) == since_2
        assert await conn.fetchval("SELECT self_signup FROM identity.tenants WHERE slug = 'old'") is False
        assert await conn.fetchval("SELECT signup_domains FROM identity.tenants WHERE slug = 'old'") == []
    finally:
        await conn.close()


class CountingHasher(PasswordHasher):
    """The real hasher, counting the hashes it computes."""

    def __init__(self) -> None:
        super().__init__()
        self.hashes = 0

    async def hash_async(self, password: str) -> str:
        self.hashes += 1
        return await super().hash_async(password)


async def test_every_outcome_costs_one_password_hash(make_settings: Callable[..., Settings]) -> None:
    """No timing oracle: the costly step runs whether or not the tenant exists or the account is made."""
    apps: list[Any] = []

    def factory(base: str) -> Any:
        apps.append(create_app(make_settings(public_url=base, trusted_proxy_hops=1)))
        return apps[0]

    async with serve_app(factory) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        identity = IdentityHarness(base, http, identity_services(apps[0]).settings)
        await identity.create_tenant("timing")
        hasher = CountingHasher()
        services = identity_services(apps[0])
        services.registration = dataclasses.replace(services.registration, hasher=hasher)
        cases = [
            ("no-such-tenant", "a@timing.example.com"),
            ("timing", "b@timing.example.com"),
            ("timing", "admin@timing.example.com"),
        ]
        for count, (tenant, email) in enumerate(cases, start=1):
            assert (await _register(identity, tenant, email)).status_code == 202
            assert hasher.hashes == count, (tenant, email)
