"""Dojo inputs out of range or not storable are precise 422s, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.dojo.conftest import CollabServer


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("after=" + "9" * 30, "after"),
        ("cursor=" + "9" * 30, "cursor"),
        ("after=9223372036854775808", "after"),
        ("after=-1", "after"),
        ("after=0", "after"),
        ("cursor=%D9%A5", "cursor"),  # ARABIC-INDIC DIGIT FIVE: a digit to int(), not an id
        ("after=1%00", "query"),
    ],
)
async def test_message_ids_out_of_range_are_a_422(
    collab: CollabServer, http: httpx.AsyncClient, query: str, field: str
) -> None:
    host = await collab.user(http)
    dojo = (await http.post("/v1/dojos", json={"title": "Kata"}, headers=host.auth)).json()
    response = await http.get(f"/v1/dojos/{dojo['id']}/messages?{query}", headers=host.auth)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    largest = await http.get(f"/v1/dojos/{dojo['id']}/messages?after=9223372036854775807", headers=host.auth)
    assert largest.status_code == 200 and largest.json()["items"] == []


@pytest.mark.parametrize("title", ["Kata\u202e", "Ka\u200bta", "Kata\x00", "\u2067Kata"])
async def test_dojo_titles_refuse_nul_and_invisible_characters(
    collab: CollabServer, http: httpx.AsyncClient, title: str
) -> None:
    host = await collab.user(http)
    response = await http.post("/v1/dojos", json={"title": title}, headers=host.auth)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "title"


async def test_dojo_language_is_normalized_with_the_pocs_list(collab: CollabServer, http: httpx.AsyncClient) -> None:
    host = await collab.user(http)
    for given, stored in (("golang", "Go"), ("  python ", "Python"), ("c#", "C#")):
        created = await http.post("/v1/dojos", json={"title": "Kata", "language": given}, headers=host.auth)
        assert created.status_code == 201, created.text
        assert created.json()["language"] == stored
    unknown = await http.post("/v1/dojos", json={"title": "Kata", "language": "pyhton"}, headers=host.auth)
    assert unknown.status_code == 422
    [error] = unknown.json()["errors"]
    assert error["field"] == "language" and error["code"] == "unknown_language" and "Python" in error["message"]
    both = await http.post("/v1/dojos", json={"language": "klingon"}, headers=host.auth)
    assert sorted((e["field"], e["code"]) for e in both.json()["errors"]) == [
        ("language", "unknown_language"),
        ("title", "missing"),
    ]
