"""Register, read, change and delete POCs: normalization, duplicates, permissions, the outbox."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from tests.poc.conftest import PROBLEM, PocHarness, poc_fields, subject


async def outbox(pocs: PocHarness, aggregate: str | None = None) -> list[dict[str, Any]]:
    """The outbox rows, read as the database administrator (all tenants)."""
    conn = await asyncpg.connect(pocs.database.admin)
    try:
        rows = await conn.fetch(
            "SELECT tenant_id, aggregate_id, event_type, payload::text AS payload, published_at FROM poc.outbox"
            " WHERE $1::uuid IS NULL OR aggregate_id = $1::uuid ORDER BY id",
            aggregate,
        )
    finally:
        await conn.close()
    import json

    return [{**dict(r), "payload": json.loads(r["payload"])} for r in rows]


async def test_create_normalizes_and_returns_the_poc(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    response = await pocs.http.post(
        "/v1/pocs",
        json={
            "name": "  Integração   de pagamentos PIX ",
            "github_url": "http://WWW.GitHub.com/Acme/Pix-Checkout.git/",
            "language": "golang",
            "tags": ["Payments", "PIX", "payments", "Open Finance", "C#"],
            "description": "  Cobrança instantânea.\n",
        },
        headers=admin.auth,
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    poc = response.json()
    assert response.headers["location"] == f"/v1/pocs/{poc['id']}"
    assert poc["name"] == "Integração de pagamentos PIX"
    assert poc["github_url"] == "https://github.com/Acme/Pix-Checkout"
    assert poc["language"] == "Go"
    assert poc["tags"] == ["payments", "pix", "open-finance", "c-sharp"]
    assert poc["description"] == "Cobrança instantânea."
    assert poc["owner_id"] == subject(admin)
    assert poc["created_at"] == poc["updated_at"] and poc["created_at"].endswith("Z")
    uuid.UUID(poc["id"])
    fetched = await pocs.http.get(f"/v1/pocs/{poc['id']}", headers=admin.auth)
    assert fetched.status_code == 200 and fetched.json() == poc


async def test_description_is_optional_and_tags_default_to_none(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    poc = await pocs.create(admin, name="Minimal", github_url="github.com/a/b", language="Rust")
    assert poc["description"] == "" and poc["tags"] == [] and poc["github_url"] == "https://github.com/a/b"


async def test_same_repository_twice_in_a_tenant_is_a_409_naming_the_existing_poc(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    member = await pocs.member(admin)
    first = await pocs.create(admin, **poc_fields(1, name="Original", github_url="https://github.com/acme/repo"))
    for variant in (
        "https://github.com/acme/repo",
        "https://github.com/ACME/Repo",  # GitHub names are case-insensitive
        "git@github.com:acme/repo.git",
        "www.github.com/acme/repo/",
    ):
        response = await pocs.http.post("/v1/pocs", json=poc_fields(2, github_url=variant), headers=member.auth)
        assert response.status_code == 409, (variant, response.text)
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["existing_poc"] == {
            "id": first["id"],
            "name": "Original",
            "github_url": "https://github.com/acme/repo",
        }
        assert first["id"] in problem["detail"] and "Original" in problem["detail"]
    # Another tenant may register the same repository.
    other = await pocs.tenant()
    await pocs.create(other, **poc_fields(3, github_url="https://github.com/acme/repo"))


async def test_patch_changes_given_fields_only(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    poc = await pocs.create(admin, **poc_fields(1, tags=["a", "b"]))
    response = await pocs.http.patch(
        f"/v1/pocs/{poc['id']}", json={"language": "TYPESCRIPT", "tags": ["Node.js"]}, headers=admin.auth
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["language"] == "TypeScript" and changed["tags"] == ["node-js"]
    assert changed["name"] == poc["name"] and changed["github_url"] == poc["github_url"]
    assert changed["updated_at"] > poc["updated_at"] and changed["created_at"] == poc["created_at"]
    cleared = await pocs.http.patch(f"/v1/pocs/{poc['id']}", json={"description": None}, headers=admin.auth)
    assert cleared.status_code == 200 and cleared.json()["description"] == ""
    # Reads serve the stored document: it follows every change.
    read = await pocs.http.get(f"/v1/pocs/{poc['id']}", headers=admin.auth)
    assert read.json() == cleared.json()
    (found,) = (await pocs.search(admin, language="typescript")).json()["items"]
    assert found == cleared.json()


async def test_patch_without_changes_keeps_updated_at_and_emits_nothing(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    poc = await pocs.create(admin, **poc_fields(1))
    for body in ({}, {"name": poc["name"]}, {"language": "PYTHON", "tags": ["demo"]}):
        response = await pocs.http.patch(f"/v1/pocs/{poc['id']}", json=body, headers=admin.auth)
        assert response.status_code == 200, response.text
        assert response.json() == poc
    assert [e["event_type"] for e in await outbox(pocs, poc["id"])] == ["poc.created"]


async def test_patch_null_for_a_required_field_is_refused(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    poc = await pocs.create(admin, **poc_fields(1))
    response = await pocs.http.patch(f"/v1/pocs/{poc['id']}", json={"name": None, "tags": None}, headers=admin.auth)
    assert response.status_code == 422
    assert {(e["field"], e["code"]) for e in response.json()["errors"]} == {("name", "null"), ("tags", "null")}


async def test_patch_to_a_repository_already_registered_is_a_409(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    first = await pocs.create(admin, **poc_fields(1))
    second = await pocs.create(admin, **poc_fields(2))
    response = await pocs.http.patch(
        f"/v1/pocs/{second['id']}",
        json={"github_url": first["github_url"].upper().replace("HTTPS://GITHUB.COM", "github.com")},
        headers=admin.auth,
    )
    assert response.status_code == 409, response.text
    assert response.json()["existing_poc"]["id"] == first["id"]
    # Changing only the case of its own URL is not a conflict.
    own = await pocs.http.patch(
        f"/v1/pocs/{second['id']}", json={"github_url": "https://github.com/ACME/POC-2"}, headers=admin.auth
    )
    assert own.status_code == 200 and own.json()["github_url"] == "https://github.com/ACME/POC-2"


async def test_delete_then_gone(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    poc = await pocs.create(admin, **poc_fields(1))
    response = await pocs.http.delete(f"/v1/pocs/{poc['id']}", headers=admin.auth)
    assert response.status_code == 204 and response.content == b""
    for method in ("GET", "PATCH", "DELETE"):
        gone = await pocs.http.request(
            method, f"/v1/pocs/{poc['id']}", headers=admin.auth, json={} if method == "PATCH" else None
        )
        assert gone.status_code == 404, method
        assert gone.headers["content-type"] == PROBLEM
    # The repository can be registered again.
    await pocs.create(admin, **poc_fields(1))


async def test_unknown_and_malformed_ids(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    missing = await pocs.http.get(f"/v1/pocs/{uuid.uuid4()}", headers=admin.auth)
    assert missing.status_code == 404 and missing.json()["title"] == "Not found"
    malformed = await pocs.http.get("/v1/pocs/not-a-uuid", headers=admin.auth)
    assert malformed.status_code == 422 and malformed.json()["errors"][0]["field"] == "poc_id"


async def test_owner_or_admin_may_change_members_may_not(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    alice = await pocs.member(admin, "alice")
    bob = await pocs.member(admin, "bob")
    poc = await pocs.create(alice, **poc_fields(1))
    # Everyone in the tenant reads it.
    assert (await pocs.http.get(f"/v1/pocs/{poc['id']}", headers=bob.auth)).status_code == 200
    # Bob is neither owner nor admin.
    for method, body in (("PATCH", {"name": "Bob's now"}), ("DELETE", None)):
        refused = await pocs.http.request(method, f"/v1/pocs/{poc['id']}", json=body, headers=bob.auth)
        assert refused.status_code == 403, method
        assert refused.headers["content-type"] == PROBLEM
        assert "owner or a tenant admin" in refused.json()["detail"]
    assert (await pocs.http.get(f"/v1/pocs/{poc['id']}", headers=bob.auth)).json()["name"] == poc["name"]
    # The owner changes it; the admin changes and deletes it; ownership never moves.
    own = await pocs.http.patch(f"/v1/pocs/{poc['id']}", json={"name": "Alice v2"}, headers=alice.auth)
    assert own.status_code == 200
    by_admin = await pocs.http.patch(f"/v1/pocs/{poc['id']}", json={"name": "Admin v3"}, headers=admin.auth)
    assert by_admin.status_code == 200 and by_admin.json()["owner_id"] == subject(alice)
    assert (await pocs.http.delete(f"/v1/pocs/{poc['id']}", headers=admin.auth)).status_code == 204
    # A member deletes their own.
    mine = await pocs.create(bob, **poc_fields(2))
    assert (await pocs.http.delete(f"/v1/pocs/{mine['id']}", headers=bob.auth)).status_code == 204


async def test_every_change_is_in_the_outbox_in_order(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    member = await pocs.member(admin)
    poc = await pocs.create(member, **poc_fields(1))
    await pocs.http.patch(f"/v1/pocs/{poc['id']}", json={"name": "Renamed", "tags": ["x"]}, headers=member.auth)
    await pocs.http.delete(f"/v1/pocs/{poc['id']}", headers=admin.auth)
    events = await outbox(pocs, poc["id"])
    assert [e["event_type"] for e in events] == ["poc.created", "poc.updated", "poc.deleted"]
    assert all(str(e["tenant_id"]) == admin.tenant_id and e["published_at"] is None for e in events)
    created, updated, deleted = (e["payload"] for e in events)
    assert created["poc"] == poc and created["actor_id"] == subject(member)
    assert updated["changed"] == ["name", "tags"] and updated["poc"]["name"] == "Renamed"
    assert updated["poc"]["tags"] == ["x"] and updated["actor_id"] == subject(member)
    assert deleted["poc"]["id"] == poc["id"] and deleted["poc"]["name"] == "Renamed"
    assert deleted["actor_id"] == subject(admin)


async def test_refused_changes_leave_no_event(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    other = await pocs.member(admin)
    first = await pocs.create(admin, **poc_fields(1))
    second = await pocs.create(admin, **poc_fields(2))
    await pocs.http.post("/v1/pocs", json=poc_fields(1), headers=admin.auth)  # 409
    await pocs.http.patch(f"/v1/pocs/{second['id']}", json={"github_url": first["github_url"]}, headers=admin.auth)
    await pocs.http.patch(f"/v1/pocs/{first['id']}", json={"name": "x"}, headers=other.auth)  # 403
    await pocs.http.delete(f"/v1/pocs/{first['id']}", headers=other.auth)  # 403
    await pocs.http.patch(f"/v1/pocs/{first['id']}", json={"language": "nope"}, headers=admin.auth)  # 422
    assert [e["event_type"] for e in await outbox(pocs)] == ["poc.created", "poc.created"]


async def test_body_errors_are_precise(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    bad_json = await pocs.http.post(
        "/v1/pocs", content=b'{"name": ', headers={**admin.auth, "Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400 and bad_json.headers["content-type"] == PROBLEM
    assert "not valid JSON" in bad_json.json()["detail"]
    form = await pocs.http.post("/v1/pocs", data={"name": "x"}, headers=admin.auth)
    assert form.status_code == 415 and form.headers["content-type"] == PROBLEM
    huge = await pocs.http.post(
        "/v1/pocs",
        content=b'{"name": "' + b"x" * (pocs.settings.max_body_bytes + 10) + b'"}',
        headers={**admin.auth, "Content-Type": "application/json"},
    )
    assert huge.status_code == 413 and huge.headers["content-type"] == PROBLEM
    types = await pocs.http.post(
        "/v1/pocs",
        json={"name": 5, "github_url": None, "tags": "pix", "extra": 1},
        headers=admin.auth,
    )
    assert types.status_code == 422
    fields = {e["field"] for e in types.json()["errors"]}
    assert fields == {"name", "github_url", "language", "tags", "extra"}
    not_object = await pocs.http.post("/v1/pocs", json=["x"], headers=admin.auth)
    assert not_object.status_code == 422


async def test_without_a_token_everything_is_401(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    poc = await pocs.create(admin, **poc_fields(1))
    for method, path in (
        ("GET", "/v1/pocs"),
        ("POST", "/v1/pocs"),
        ("GET", f"/v1/pocs/{poc['id']}"),
        ("PATCH", f"/v1/pocs/{poc['id']}"),
        ("DELETE", f"/v1/pocs/{poc['id']}"),
    ):
        for headers in ({}, {"Authorization": "Bearer not.a.token"}):
            response = await pocs.http.request(method, path, headers=headers, json={} if method != "GET" else None)
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"].startswith("Bearer")
