"""Rights follow the account as it is now, not as a token remembers it (issue 11 #4).

Identity and the POC service run side by side (one port, two apps, each with its own memo of current
principals, as two nodes would): a change made through identity is enforced by identity at once and by
the POC service within `POCDOJO_AUTH_STATUS_TTL_SECONDS` (short here), read from PostgreSQL through
`identity.principal_status_v1`. Then the last administrator of a tenant, who cannot be removed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import asyncpg
import httpx
import pytest

from deploy.local import DatabaseUrls
from runtime.auth import TokenVerifier, verifier_startup
from runtime.root import ServiceRoot
from runtime.settings import Settings
from runtime.supervisor import Supervisor
from tests.conftest import wait_until
from tests.identity.harness import GOOD_PASSWORD, Account
from tests.poc.conftest import PROBLEM, PocHarness, poc_fields, poc_harness, subject

STATUS_TTL = 0.5


@pytest.fixture
async def nodes(make_settings: Callable[..., Settings], database: DatabaseUrls) -> AsyncIterator[PocHarness]:
    async with poc_harness(make_settings, database, auth_status_ttl_seconds=STATUS_TTL) as harness:
        yield harness


def _refused_as_revoked(response: httpx.Response) -> bool:
    """401 problem+json saying why: the account is gone or the sign-in was revoked (not another defect)."""
    if response.status_code != 401 or not response.headers["content-type"].startswith(PROBLEM):
        return False
    detail = response.json()["detail"]
    return "no longer exists" in detail or "was revoked" in detail


async def _refused_by_poc_service(nodes: PocHarness, account: Account) -> None:
    """Wait (at most a few status TTLs) until the POC service refuses the account's token."""

    async def refused() -> bool:
        return _refused_as_revoked(await nodes.search(account))

    await wait_until(refused, within=10 * STATUS_TTL + 2)


def _new_user(tenant: str, roles: list[str]) -> dict[str, object]:
    return {"email": f"new-{uuid.uuid4().hex[:8]}@{tenant}.example.com", "password": GOOD_PASSWORD, "roles": roles}


# -- the three attacks -----------------------------------------------------------------------------------
async def test_an_admin_token_minted_before_a_demotion_and_deletion_creates_no_admin(nodes: PocHarness) -> None:
    old_admin = await nodes.tenant()
    other_admin = await nodes.identity.add_user(old_admin, f"second@{old_admin.tenant}.example.com", ["admin"])
    created = await nodes.http.post("/v1/users", json=_new_user(old_admin.tenant, ["member"]), headers=old_admin.auth)
    assert created.status_code == 201  # the token works while its owner is an admin

    demoted = await nodes.http.patch(
        f"/v1/users/{subject(old_admin)}", json={"roles": ["member"]}, headers=other_admin.auth
    )
    assert demoted.status_code == 200
    # The token still says "admin"; the account does not any more.
    attempt = await nodes.http.post("/v1/users", json=_new_user(old_admin.tenant, ["admin"]), headers=old_admin.auth)
    assert attempt.status_code == 403, attempt.text

    deleted = await nodes.http.delete(f"/v1/users/{subject(old_admin)}", headers=other_admin.auth)
    assert deleted.status_code == 204
    attempt = await nodes.http.post("/v1/users", json=_new_user(old_admin.tenant, ["admin"]), headers=old_admin.auth)
    assert _refused_as_revoked(attempt), attempt.text
    users = (await nodes.http.get("/v1/users", headers=other_admin.auth)).json()["items"]
    assert [u["roles"] for u in users if "admin" in u["roles"]] == [["admin"]]  # only the other admin


async def test_a_deleted_users_token_creates_no_poc(nodes: PocHarness) -> None:
    admin = await nodes.tenant()
    member = await nodes.member(admin)
    await nodes.create(member, **poc_fields(1))  # the POC service knows the member as current now

    deleted = await nodes.http.delete(f"/v1/users/{subject(member)}", headers=admin.auth)
    assert deleted.status_code == 204
    await _refused_by_poc_service(nodes, member)
    attempt = await nodes.http.post("/v1/pocs", json=poc_fields(2), headers=member.auth)
    assert _refused_as_revoked(attempt), attempt.text
    assert _refused_as_revoked(await nodes.http.get("/v1/auth/me", headers=member.auth))
    listed = await nodes.search_all(admin)
    assert [p["github_url"] for p in listed] == [poc_fields(1)["github_url"]]


async def test_access_tokens_stop_when_their_sign_in_is_revoked(nodes: PocHarness) -> None:
    admin = await nodes.tenant()
    member = await nodes.member(admin)
    elsewhere = await nodes.identity.login(admin.tenant, member.email, GOOD_PASSWORD)  # a second sign-in
    assert (await nodes.search(member)).status_code == 200

    revoked = await nodes.http.post("/v1/auth/revoke", json={"token": member.refresh_token})
    assert revoked.status_code == 200
    assert _refused_as_revoked(await nodes.http.get("/v1/auth/me", headers=member.auth))
    await _refused_by_poc_service(nodes, member)
    attempt = await nodes.http.post("/v1/pocs", json=poc_fields(1), headers=member.auth)
    assert _refused_as_revoked(attempt), attempt.text
    # Only that sign-in ended: the account's other sign-in still works everywhere.
    assert (await nodes.http.get("/v1/auth/me", headers=elsewhere.auth)).status_code == 200
    assert (await nodes.http.post("/v1/pocs", json=poc_fields(2), headers=elsewhere.auth)).status_code == 201


async def test_refresh_token_reuse_stops_the_access_tokens_of_its_sign_in(nodes: PocHarness) -> None:
    admin = await nodes.tenant()
    member = await nodes.member(admin)
    rotated = await nodes.http.post(
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": member.refresh_token}
    )
    assert rotated.status_code == 200
    fresh = {"Authorization": f"Bearer {rotated.json()['access_token']}"}
    assert (await nodes.http.get("/v1/pocs", headers=fresh)).status_code == 200

    replayed = await nodes.http.post(  # the old refresh token again: stolen, so the sign-in is revoked
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": member.refresh_token}
    )
    assert replayed.status_code == 400
    for headers in (fresh, member.auth):
        assert _refused_as_revoked(await nodes.http.get("/v1/auth/me", headers=headers))

    async def refused() -> bool:
        return _refused_as_revoked(await nodes.http.get("/v1/pocs", headers=fresh))

    await wait_until(refused, within=10 * STATUS_TTL + 2)


# -- the last administrator ------------------------------------------------------------------------------
def _last_admin(response: httpx.Response) -> bool:
    body = response.json()
    return (
        response.status_code == 409
        and response.headers["content-type"].startswith(PROBLEM)
        and body["type"].endswith("last-admin")
        and "last administrator" in body["detail"]
    )


async def test_the_last_admin_can_be_neither_demoted_nor_deleted(nodes: PocHarness) -> None:
    admin = await nodes.tenant()
    me = subject(admin)
    assert _last_admin(await nodes.http.patch(f"/v1/users/{me}", json={"roles": ["member"]}, headers=admin.auth))
    assert _last_admin(await nodes.http.delete(f"/v1/users/{me}", headers=admin.auth))
    assert (await nodes.http.get("/v1/auth/me", headers=admin.auth)).json()["roles"] == ["admin", "member"]

    other = await nodes.identity.add_user(admin, f"other@{admin.tenant}.example.com", ["admin"])
    demoted = await nodes.http.patch(f"/v1/users/{me}", json={"roles": ["member"]}, headers=admin.auth)
    assert demoted.status_code == 200
    assert _last_admin(await nodes.http.delete(f"/v1/users/{subject(other)}", headers=other.auth))


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(nodes: PocHarness) -> None:
    first = await nodes.tenant()
    second = await nodes.identity.add_user(first, f"second@{first.tenant}.example.com", ["admin"])
    lock = await asyncpg.connect(nodes.database.admin)
    try:
        async with lock.transaction():
            # Hold the tenant's row, so both demotions are in flight together when it is released.
            await lock.execute("SELECT 1 FROM identity.tenants WHERE id = $1 FOR UPDATE", uuid.UUID(first.tenant_id))
            demotions = [
                asyncio.create_task(
                    nodes.http.patch(f"/v1/users/{subject(target)}", json={"roles": ["member"]}, headers=actor.auth)
                )
                for actor, target in ((first, second), (second, first))
            ]

            async def both_waiting() -> bool:
                await lock.execute("SELECT pg_stat_clear_snapshot()")  # else frozen for the transaction
                waiting = await lock.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                return bool(waiting == 2)

            await wait_until(both_waiting, within=10)
        responses = await asyncio.gather(*demotions)
    finally:
        await lock.close()
    assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
    assert _last_admin(next(r for r in responses if r.status_code == 409))
    admins = [
        account
        for account in (first, second)
        if "admin" in (await nodes.http.get("/v1/auth/me", headers=account.auth)).json()["roles"]
    ]
    assert len(admins) == 1


# -- Cognito mode ----------------------------------------------------------------------------------------
async def test_cognito_mode_has_no_current_account_to_check(make_settings: Callable[..., Settings]) -> None:
    """Cognito keeps the accounts: there is no record here to consult, so tokens are taken as issued
    (tenant and roles from their groups) until they expire — documented in `runtime.auth`."""
    settings = make_settings(
        auth_mode="cognito",
        auth_issuer="https://cognito-idp.sa-east-1.amazonaws.com/sa-east-1_Dojo12345",
        auth_client_ids=["4kq8example0client0id0abc"],
    )
    root = ServiceRoot("probe", settings, Supervisor("probe"))
    async with AsyncExitStack() as stack:
        await verifier_startup(lambda: {"keys": []})(root, stack)
        assert isinstance(root.verifier, TokenVerifier)
        assert root.principal_statuses is None
