"""`/v1/videos` without a worker running: 422s for a bad period, resolution or locale; the period resolved to
instants; idempotency; visibility across users and tenants; the per-user limit; cancel of a queued video;
listing with a cursor."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from media.video_schemas import current_year
from tests.media.jobs.conftest import MediaHarness, worker
from tests.media.videos.conftest import (
    VIDEO,
    ask,
    catalogue,
    create,
    export_of,
    follow,
    get,
    job_status,
    object_paths,
)
from tests.poc.conftest import poc_fields, subject

PROBLEM = "application/problem+json"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**VIDEO, "period": "last-year"}, "period"),
        ({**VIDEO, "period": 1999}, "period"),
        ({**VIDEO, "period": "next"}, "period"),
        ({**VIDEO, "period": "2025"}, "period"),  # a year is a JSON integer
        ({**VIDEO, "period": 2025.5}, "period"),
        ({**VIDEO, "period": True}, "period"),
        ({**VIDEO, "period": None}, "period"),
        ({**VIDEO, "resolution": "4k"}, "resolution"),
        ({**VIDEO, "resolution": 720}, "resolution"),
        ({"locale": "en"}, "resolution"),
        ({**VIDEO, "locale": "fr"}, "locale"),
        ({"resolution": "720p"}, "locale"),
        ({**VIDEO, "colour": "red"}, "colour"),
    ],
)
async def test_a_bad_period_resolution_or_locale_is_a_field_error(
    media: MediaHarness, body: dict[str, Any], field: str
) -> None:
    admin = await media.tenant()
    response = await ask(media, admin, body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_a_year_in_the_future_is_refused_the_current_one_taken(media: MediaHarness) -> None:
    admin = await media.tenant()
    this_year = current_year()
    future = await ask(media, admin, {**VIDEO, "period": this_year + 1})
    assert future.status_code == 422
    assert [e["field"] for e in future.json()["errors"]] == ["period"]
    assert str(this_year) in future.json()["errors"][0]["message"]
    accepted = await ask(media, admin, {**VIDEO, "period": this_year})
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["period"] == this_year


async def test_the_period_is_fixed_when_asked_and_counts_only_its_own_pocs(media: MediaHarness) -> None:
    admin = await media.tenant()
    member = await media.member(admin)
    await catalogue(media, admin, 3)
    await media.pocs.create(member, **poc_fields(99))
    year_2000 = await create(media, admin, {**VIDEO, "period": 2000})
    assert (year_2000["period"], year_2000["poc_count"]) == (2000, 0)
    assert year_2000["period_start"] == "2000-01-01T02:00:00Z"  # midnight in São Paulo (summer time then)
    assert year_2000["period_end"] == "2001-01-01T02:00:00Z"
    recent = await create(media, admin)  # the default period
    assert (recent["period"], recent["poc_count"]) == ("last-12-months", 3)  # the caller's POCs only
    assert recent["period_start"][4:] == recent["period_end"][4:]
    assert int(recent["period_end"][:4]) - int(recent["period_start"][:4]) == 1


async def test_the_same_idempotency_key_and_body_give_the_same_video(media: MediaHarness) -> None:
    admin = await media.tenant()
    first = await ask(media, admin, VIDEO, key="v-1")
    again = await ask(media, admin, VIDEO, key="v-1")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["location"] == f"/v1/videos/{first.json()['id']}"
    other = await ask(media, admin, {**VIDEO, "resolution": "1080p"}, key="v-1")
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    # Keys are per user, and parallel requests with one key make one video.
    member = await media.member(admin)
    same_key = await asyncio.gather(*(ask(media, member, VIDEO, key="v-1") for _ in range(3)))
    assert {r.status_code for r in same_key} == {202}
    assert len({r.json()["id"] for r in same_key}) == 1
    assert same_key[0].json()["id"] != first.json()["id"]


async def test_other_tenants_and_other_users_videos_are_not_found_admins_see_all(media: MediaHarness) -> None:
    admin = await media.tenant()
    member = await media.member(admin, "m1")
    other_member = await media.member(admin, "m2")
    stranger = await media.tenant()
    video = await create(media, member)
    path = f"/v1/videos/{video['id']}"
    for account in (stranger, other_member):
        for method, suffix in (
            ("GET", ""),
            ("GET", "/download"),
            ("GET", "/thumbnail"),
            ("GET", "/captions"),
            ("DELETE", ""),
        ):
            response = await media.http.request(method, path + suffix, headers=account.auth)
            assert response.status_code == 404, (method, suffix, response.text)
            assert response.headers["content-type"] == PROBLEM
    assert (await get(media, admin, video["id"]))["user_id"] == subject(member)
    mine = await create(media, admin)
    admin_list = (await media.http.get("/v1/videos", headers=admin.auth)).json()["items"]
    assert {v["id"] for v in admin_list} == {video["id"], mine["id"]}
    member_list = (await media.http.get("/v1/videos", headers=member.auth)).json()["items"]
    assert [v["id"] for v in member_list] == [video["id"]]
    assert (await media.http.get("/v1/videos", headers=stranger.auth)).json()["items"] == []


async def test_too_many_active_videos_is_429_with_retry_after(media: MediaHarness) -> None:
    admin = await media.tenant()
    limit = media.settings.media_max_active_videos_per_user
    videos = [await create(media, admin) for _ in range(limit)]
    refused = await ask(media, admin)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert refused.headers["content-type"] == PROBLEM
    # Reports have their own limit; another user of the tenant is not limited by this one's videos.
    assert (await media.request(admin)).status_code == 202
    assert (await ask(media, await media.member(admin))).status_code == 202
    # A cancelled video frees its slot.
    assert (await media.http.delete(f"/v1/videos/{videos[0]['id']}", headers=admin.auth)).status_code == 204
    assert (await ask(media, admin)).status_code == 202


async def test_a_cancelled_queued_video_never_starts(media: MediaHarness) -> None:
    admin = await media.tenant()
    await catalogue(media, admin, 1)
    video = await create(media, admin)
    export_id, secret = await export_of(media, video["id"])
    assert secret is not None and await media.export_items(export_id, secret) == 200
    assert (await media.http.delete(f"/v1/videos/{video['id']}", headers=admin.auth)).status_code == 204
    assert await export_of(media, video["id"]) == (export_id, None)
    assert await media.export_items(export_id, secret) == 404  # the export was deleted with the cancel
    assert (await get(media, admin, video["id"]))["status"] == "cancelled"
    assert await job_status(media, video["id"]) == "cancelled"
    kept = await create(media, admin)
    async with worker(media.settings):
        done = await follow(media, admin, kept["id"], "done", "failed")
    assert done["status"] == "done", done
    cancelled = await get(media, admin, video["id"])
    assert cancelled["status"] == "cancelled" and cancelled["started_at"] is None
    assert not any(p.exists() for p in object_paths(media, admin, video["id"]).values())
    for suffix in ("/download", "/thumbnail", "/captions"):
        response = await media.http.get(f"/v1/videos/{video['id']}{suffix}", headers=admin.auth)
        assert response.status_code == 409, suffix


async def test_list_pages_with_a_cursor_newest_first(media: MediaHarness) -> None:
    admin = await media.tenant()
    ids = []
    for _ in range(3):
        video = await create(media, admin)
        ids.append(video["id"])
        await media.http.delete(f"/v1/videos/{video['id']}", headers=admin.auth)  # cancel: frees the slot
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await media.http.get("/v1/videos", params=params, headers=admin.auth)).json()
        seen += [v["id"] for v in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    bad = await media.http.get("/v1/videos", params={"cursor": "nope"}, headers=admin.auth)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
    assert (await media.http.get(f"/v1/videos/{uuid.uuid4()}", headers=admin.auth)).status_code == 404
