"""`/v1/reports` without a worker running: validation, idempotency, visibility, the per-user limit, cancel
of a queued report, listing; and the names a report's cover takes from identity."""

from __future__ import annotations

import asyncio
import uuid

from runtime.root import root_of
from tests.media.jobs.conftest import MediaHarness, worker
from tests.media.render.conftest import run
from tests.poc.conftest import subject

PROBLEM = "application/problem+json"


async def test_unknown_format_locale_and_filters_are_field_errors(media: MediaHarness) -> None:
    admin = await media.tenant()
    response = await media.request(admin, {"format": "docx", "locale": "fr"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert {e["field"] for e in response.json()["errors"]} == {"format", "locale"}
    response = await media.request(
        admin, {"format": "csv", "locale": "en", "filters": {"language": "no-such-language", "tag": ["ok", ""]}}
    )
    assert response.status_code == 422, response.text
    fields = {e["field"] for e in response.json()["errors"]}
    assert "filters.language" in fields, fields
    response = await media.request(admin, {"format": "csv", "locale": "en", "filters": {"colour": "red"}})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["filters.colour"]


async def test_the_same_idempotency_key_and_body_give_the_same_report(media: MediaHarness) -> None:
    admin = await media.tenant()
    body = {"format": "pdf", "locale": "pt-BR", "title": "Relatório"}
    first = await media.request(admin, body, key="k-1")
    again = await media.request(admin, body, key="k-1")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["location"] == f"/v1/reports/{first.json()['id']}"
    other = await media.request(admin, {**body, "title": "Outro"}, key="k-1")
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    listed = await media.http.get("/v1/reports", headers=admin.auth)
    assert [r["id"] for r in listed.json()["items"]] == [first.json()["id"]]
    # Keys are per user: another user's same key is another report.
    member = await media.member(admin)
    assert (await media.request(member, body, key="k-1")).json()["id"] != first.json()["id"]


async def test_other_tenants_and_other_users_reports_are_not_found_admins_see_all(media: MediaHarness) -> None:
    admin = await media.tenant()
    member = await media.member(admin, "m1")
    other_member = await media.member(admin, "m2")
    stranger = await media.tenant()
    report = await media.create(member)
    path = f"/v1/reports/{report['id']}"
    for account in (stranger, other_member):
        for method, suffix in (("GET", ""), ("GET", "/download"), ("DELETE", "")):
            response = await media.http.request(method, path + suffix, headers=account.auth)
            assert response.status_code == 404, (method, suffix, response.text)
            assert response.headers["content-type"] == PROBLEM
    assert (await media.get(admin, report["id"]))["user_id"] == subject(member)
    mine = await media.create(admin)
    admin_list = (await media.http.get("/v1/reports", headers=admin.auth)).json()["items"]
    assert {r["id"] for r in admin_list} == {report["id"], mine["id"]}
    member_list = (await media.http.get("/v1/reports", headers=member.auth)).json()["items"]
    assert [r["id"] for r in member_list] == [report["id"]]
    assert (await media.http.get("/v1/reports", headers=stranger.auth)).json()["items"] == []


async def test_too_many_active_reports_is_429_with_retry_after(media: MediaHarness) -> None:
    admin = await media.tenant()
    limit = media.settings.media_max_active_reports_per_user
    reports = [await media.create(admin) for _ in range(limit)]
    refused = await media.request(admin)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert refused.headers["content-type"] == PROBLEM
    # Another user of the tenant is not limited by this one's reports.
    assert (await media.request(await media.member(admin))).status_code == 202
    # A cancelled report frees its slot.
    assert (await media.http.delete(f"/v1/reports/{reports[0]['id']}", headers=admin.auth)).status_code == 204
    assert (await media.request(admin)).status_code == 202


async def test_a_cancelled_queued_report_never_starts(media: MediaHarness) -> None:
    admin = await media.tenant()
    await media.catalogue(admin, 3)
    report = await media.create(admin)
    assert report["status"] == "queued"
    export_id, secret = await media.export(report["id"])
    assert secret is not None and await media.export_items(export_id, secret) == 200
    assert (await media.http.delete(f"/v1/reports/{report['id']}", headers=admin.auth)).status_code == 204
    assert await media.export(report["id"]) == (export_id, None)
    assert await media.export_items(export_id, secret) == 404  # the export was deleted with the cancel
    assert (await media.get(admin, report["id"]))["status"] == "cancelled"
    assert await media.job_status(report["id"]) == "cancelled"
    kept = await media.create(admin)
    async with worker(media.settings):
        done = await media.follow(admin, kept["id"], "done", "failed")
    assert done["status"] == "done", done
    cancelled = await media.get(admin, report["id"])
    assert cancelled["status"] == "cancelled" and cancelled["started_at"] is None
    assert not media.object_path(cancelled, admin, subject(admin)).exists()
    download = await media.http.get(f"/v1/reports/{report['id']}/download", headers=admin.auth)
    assert download.status_code == 409


async def test_list_pages_with_a_cursor_newest_first(media: MediaHarness) -> None:
    admin = await media.tenant()
    ids = []
    for _ in range(3):
        report = await media.create(admin)
        ids.append(report["id"])
        await media.http.delete(f"/v1/reports/{report['id']}", headers=admin.auth)  # cancel: frees the slot
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await media.http.get("/v1/reports", params=params, headers=admin.auth)).json()
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    bad = await media.http.get("/v1/reports", params={"cursor": "nope"}, headers=admin.auth)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
    assert (await media.http.get(f"/v1/reports/{uuid.uuid4()}", headers=admin.auth)).status_code == 404


async def test_parallel_requests_keep_the_key_and_the_limit(media: MediaHarness) -> None:
    admin = await media.tenant()
    body = {"format": "csv", "locale": "en"}
    same_key = await asyncio.gather(*(media.request(admin, body, key="parallel") for _ in range(4)))
    assert {r.status_code for r in same_key} == {202}
    assert len({r.json()["id"] for r in same_key}) == 1
    limit = media.settings.media_max_active_reports_per_user
    member = await media.member(admin)
    burst = await asyncio.gather(*(media.request(member, body) for _ in range(limit + 3)))
    assert sorted(r.status_code for r in burst) == [202] * limit + [429] * 3
    listed = (await media.http.get("/v1/reports", headers=member.auth)).json()["items"]
    assert len(listed) == limit


async def test_a_members_pdf_cover_names_the_tenant_by_its_display_name(media: MediaHarness) -> None:
    admin = await media.tenant()
    renamed = await media.http.patch("/v1/tenant", json={"name": "Banco São Paulo Ltda."}, headers=admin.auth)
    assert renamed.status_code == 200, renamed.text
    member = await media.member(admin)
    await media.catalogue(admin, 2)
    report = await media.create(member, {"format": "pdf", "locale": "pt-BR"})
    async with worker(media.settings):
        done = await media.follow(member, report["id"], "done", "failed")
    assert done["status"] == "done", done
    cover = run("pdftotext", "-l", "1", media.object_path(done, admin, subject(member)), "-")
    assert "Banco São Paulo Ltda." in cover, cover
    assert admin.tenant not in cover  # not the slug


async def test_the_report_change_listener_is_a_task_of_the_service_supervisor(media: MediaHarness) -> None:
    """Logged and restarted if it ever crashes, stopped in order with the service."""
    assert "media-report-changes" in root_of(media.media_app).supervisor.names
