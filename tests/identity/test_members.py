"""Display names and the member directory: every member sees who the others are, only admins see e-mails."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from deploy.local import DatabaseUrls
from identity.members import display_name
from runtime import migrations
from tests.identity.harness import IdentityHarness

IDENTITY = migrations.ServiceSchema("identity", "identity")


async def test_every_member_sees_the_directory_and_only_admins_see_emails(identity: IdentityHarness) -> None:
    admin = await identity.create_tenant()
    ana = await identity.add_user(admin, f"ana.souza@{admin.tenant}.example.com")
    bob = await identity.add_user(admin, f"bob@{admin.tenant}.example.com")
    other = await identity.create_tenant()

    me = (await identity.http.get("/v1/auth/me", headers=ana.auth)).json()
    assert me["display_name"] == "ana.souza"  # the default: the e-mail's local part
    listed = await identity.http.get("/v1/members", headers=bob.auth)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert {m["display_name"] for m in items} == {"admin", "ana.souza", "bob"}
    assert all(set(m) == {"id", "display_name", "roles"} for m in items)  # no e-mail for a member
    as_admin = (await identity.http.get("/v1/members", headers=admin.auth)).json()["items"]
    assert {m["email"] for m in as_admin} == {admin.email, ana.email, bob.email}

    one = await identity.http.get(f"/v1/members/{me['id']}", headers=bob.auth)
    assert one.status_code == 200 and one.json() == {"id": me["id"], "display_name": "ana.souza", "roles": ["member"]}
    assert (await identity.http.get(f"/v1/members/{me['id']}", headers=other.auth)).status_code == 404
    assert (await identity.http.get(f"/v1/members/{uuid.uuid4()}", headers=bob.auth)).status_code == 404
    assert (await identity.http.get("/v1/members", headers=other.auth)).json()["items"][0]["display_name"] == "admin"
    assert (await identity.http.get("/v1/members")).status_code == 401

    # Resolve ids in one call; search names (members: not e-mails); pages.
    picked = await identity.http.get("/v1/members", params={"id": [me["id"], str(uuid.uuid4())]}, headers=bob.auth)
    assert [m["display_name"] for m in picked.json()["items"]] == ["ana.souza"]
    found = await identity.http.get("/v1/members", params={"q": "SOUZA"}, headers=bob.auth)
    assert [m["display_name"] for m in found.json()["items"]] == ["ana.souza"]
    assert (await identity.http.get("/v1/members", params={"q": "example"}, headers=bob.auth)).json()["items"] == []
    by_email = await identity.http.get("/v1/members", params={"q": "example"}, headers=admin.auth)
    assert len(by_email.json()["items"]) == 3
    assert (await identity.http.get("/v1/members", params={"q": "%"}, headers=bob.auth)).json()["items"] == []
    first = (await identity.http.get("/v1/members", params={"limit": 2}, headers=bob.auth)).json()
    rest = (
        await identity.http.get("/v1/members", params={"limit": 2, "cursor": first["next_cursor"]}, headers=bob.auth)
    ).json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None
    for bad in ({"q": "a\u200bb"}, {"limit": 0}, {"cursor": "nope"}, {"id": "x"}):
        assert (await identity.http.get("/v1/members", params=bad, headers=bob.auth)).status_code == 422, bad


async def test_display_names_are_set_by_their_owner_and_by_admins(identity: IdentityHarness) -> None:
    admin = await identity.create_tenant()
    ana = await identity.add_user(admin, f"ana@{admin.tenant}.example.com")
    renamed = await identity.http.patch("/v1/auth/me", json={"display_name": "  Ana   Souza "}, headers=ana.auth)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["display_name"] == "Ana Souza"
    ana_id = renamed.json()["id"]
    by_admin = await identity.http.patch(
        f"/v1/users/{ana_id}", json={"display_name": "Ｆｕｌｌ Width"}, headers=admin.auth
    )
    assert by_admin.status_code == 200 and by_admin.json()["display_name"] == "Full Width"  # NFKC
    assert by_admin.json()["roles"] == ["member"]  # unchanged
    assert (await identity.http.get(f"/v1/members/{ana_id}", headers=ana.auth)).json()["display_name"] == "Full Width"
    # Roles alone still work; an empty change is a 422; members may not rename others.
    promoted = await identity.http.patch(f"/v1/users/{ana_id}", json={"roles": ["admin", "member"]}, headers=admin.auth)
    assert promoted.status_code == 200 and promoted.json()["display_name"] == "Full Width"
    assert (await identity.http.patch(f"/v1/users/{ana_id}", json={}, headers=admin.auth)).status_code == 422
    member = await identity.add_user(admin, f"m@{admin.tenant}.example.com")
    assert (
        await identity.http.patch(f"/v1/users/{ana_id}", json={"display_name": "x"}, headers=member.auth)
    ).status_code == 403
    for bad in ("", "   ", "a\u202eb", "a\u200db", "x" * 81, "a\x00b"):
        response = await identity.http.patch("/v1/auth/me", json={"display_name": bad}, headers=ana.auth)
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["field"] == "display_name"


def test_display_name_rules() -> None:
    assert display_name(" Zoë   Ångström ") == "Zoë Ångström"
    for bad in ("a\tb", "a\u2066b", "\ufeffa"):
        with pytest.raises(ValueError, match="invisible or control"):
            display_name(bad)
    assert display_name("ﬁle") == "file"  # NFKC
    assert display_name("x" * 80) == "x" * 80


async def test_display_name_migration_rolls_back_and_fills_existing_accounts(database: DatabaseUrls) -> None:
    owner = await asyncpg.connect(database.owner)
    service = await asyncpg.connect(database.service)
    tenant = uuid.uuid4()
    try:
        assert await migrations.downgrade(owner, IDENTITY, steps=1) == [4]
        async with service.transaction():
            await service.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
            await service.execute(
                "INSERT INTO identity.tenants (id, slug, name) VALUES ($1, $2, 'T')", tenant, f"t{tenant.hex[:8]}"
            )
            await service.execute(
                "INSERT INTO identity.users (tenant_id, email, email_normalized, password_hash)"
                " VALUES ($1, 'Old.Timer@x.example', 'old.timer@x.example', 'h')",
                tenant,
            )
        assert await migrations.upgrade(owner, IDENTITY) == [4]
        async with service.transaction():
            await service.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
            assert await service.fetchval("SELECT display_name FROM identity.users") == "Old.Timer"
    finally:
        await service.close()
        await owner.close()


async def test_every_member_reads_the_tenants_display_name_on_me(identity: IdentityHarness) -> None:
    admin = await identity.create_tenant()
    ana = await identity.add_user(admin, f"ana@{admin.tenant}.example.com")
    me = (await identity.http.get("/v1/auth/me", headers=ana.auth)).json()
    assert (me["tenant"], me["tenant_name"]) == (admin.tenant, f"Tenant {admin.tenant}")
    renamed = await identity.http.patch("/v1/tenant", json={"name": "Banco São Paulo Ltda."}, headers=admin.auth)
    assert renamed.status_code == 200, renamed.text
    assert (await identity.http.get("/v1/auth/me", headers=ana.auth)).json()["tenant_name"] == "Banco São Paulo Ltda."
    changed = await identity.http.patch("/v1/auth/me", json={"display_name": "Ana"}, headers=ana.auth)
    assert changed.json()["tenant_name"] == "Banco São Paulo Ltda."
    # Only the caller's own account carries it: an administrator's view of another account does not.
    assert (await identity.http.get(f"/v1/users/{me['id']}", headers=admin.auth)).json()["tenant_name"] is None
