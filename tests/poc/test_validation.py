"""Every validation rule of a POC, each with its code and message (no database needed), plus the
422 problem the API builds from them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from poc_api.validation import (
    check_description,
    check_github_url,
    check_name,
    check_owner,
    check_query,
    check_tags,
    parse_time,
    prefix_words,
    tag_slug,
)
from runtime import languages
from runtime.errors import FieldError
from runtime.languages import check_language
from tests.poc.conftest import PROBLEM, PocHarness, poc_fields

# -- GitHub URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "normalized"),
    [
        ("https://github.com/acme/pix", "https://github.com/acme/pix"),
        ("http://github.com/acme/pix", "https://github.com/acme/pix"),
        ("HTTPS://GitHub.COM/Acme/Pix", "https://github.com/Acme/Pix"),  # host case only; names keep theirs
        ("https://www.github.com/acme/pix", "https://github.com/acme/pix"),
        ("github.com/acme/pix", "https://github.com/acme/pix"),
        ("www.github.com/acme/pix/", "https://github.com/acme/pix"),
        ("https://github.com/acme/pix.git", "https://github.com/acme/pix"),
        ("https://github.com/acme/pix.GIT/", "https://github.com/acme/pix"),
        ("git@github.com:acme/pix.git", "https://github.com/acme/pix"),
        ("ssh://git@github.com/acme/pix.git", "https://github.com/acme/pix"),
        ("https://github.com/acme/pix?tab=readme#usage", "https://github.com/acme/pix"),
        ("https://github.com:443/acme/pix", "https://github.com/acme/pix"),
        ("  https://github.com/acme/pix  ", "https://github.com/acme/pix"),
        ("https://github.com/a-b-c/x.y_z-1", "https://github.com/a-b-c/x.y_z-1"),
        ("https://github.com/acme/.github", "https://github.com/acme/.github"),
        ("https://github.com/" + "a" * 39 + "/" + "r" * 100, "https://github.com/" + "a" * 39 + "/" + "r" * 100),
    ],
)
def test_github_urls_are_normalized(given: str, normalized: str) -> None:
    assert check_github_url(given) == (normalized, [])


@pytest.mark.parametrize(
    ("given", "code", "message"),
    [
        ("", "blank", "must be the repository's GitHub URL, e.g. https://github.com/{owner}/{repo}"),
        (
            "https://gitlab.com/acme/pix",
            "unsupported_host",
            "only GitHub repository URLs are supported ('gitlab.com' is not github.com): "
            "use https://github.com/{owner}/{repo}",
        ),
        (
            "https://bitbucket.org/acme/pix",
            "unsupported_host",
            "only GitHub repository URLs are supported ('bitbucket.org' is not github.com): "
            "use https://github.com/{owner}/{repo}",
        ),
        (
            "https://gist.github.com/acme/123",
            "unsupported_host",
            "only GitHub repository URLs are supported ('gist.github.com' is not github.com): "
            "use https://github.com/{owner}/{repo}",
        ),
        (
            "https://github.com.evil.io/acme/pix",
            "unsupported_host",
            "only GitHub repository URLs are supported ('github.com.evil.io' is not github.com): "
            "use https://github.com/{owner}/{repo}",
        ),
        (
            "ftp://github.com/acme/pix",
            "invalid_url",
            "must be an https URL (got the 'ftp' scheme); expected https://github.com/{owner}/{repo}",
        ),
        (
            "https://github.com/acme pix",
            "invalid_url",
            "must be a URL without spaces or control characters, e.g. https://github.com/{owner}/{repo}",
        ),
        ("https://user:pw@github.com/acme/pix", "invalid_url", "must not contain credentials"),
        (
            "https://github.com:8443/acme/pix",
            "invalid_url",
            "must not name a port; expected https://github.com/{owner}/{repo}",
        ),
        (
            "https://github.com:99999/acme/pix",
            "invalid_url",
            "is not a valid URL; expected https://github.com/{owner}/{repo}",
        ),
        ("https://github.com/", "not_a_repository", "must name a repository: https://github.com/{owner}/{repo}"),
        ("https://github.com//pix", "not_a_repository", "must name a repository: https://github.com/{owner}/{repo}"),
        (
            "https://github.com/acme",
            "not_a_repository",
            "points at the account 'acme', not a repository: https://github.com/{owner}/{repo}",
        ),
        (
            "https://github.com/acme/pix/tree/main/src",
            "not_a_repository",
            "must be the repository itself, not one of its pages: did you mean https://github.com/acme/pix?",
        ),
        (
            "https://github.com/settings/profile",
            "not_a_repository",
            "'settings' is a GitHub page, not an account: use https://github.com/{owner}/{repo}",
        ),
        (
            "https://github.com/-acme/pix",
            "invalid_owner",
            "'-acme' is not a GitHub account name: 1-39 letters, digits or single hyphens, "
            "not starting or ending with a hyphen",
        ),
        (
            "https://github.com/ac--me/pix",
            "invalid_owner",
            "'ac--me' is not a GitHub account name: 1-39 letters, digits or single hyphens, "
            "not starting or ending with a hyphen",
        ),
        (
            "https://github.com/" + "a" * 40 + "/pix",
            "invalid_owner",
            f"'{'a' * 40}' is not a GitHub account name: 1-39 letters, digits or single hyphens, "
            "not starting or ending with a hyphen",
        ),
        (
            "https://github.com/acme/pi%20x",
            "invalid_repository",
            "'pi%20x' is not a GitHub repository name: 1-100 letters, digits, '.', '-' or '_'",
        ),
        (
            "https://github.com/acme/..",
            "invalid_repository",
            "'..' is not a GitHub repository name: 1-100 letters, digits, '.', '-' or '_'",
        ),
        (
            "https://github.com/acme/.git",
            "invalid_repository",
            "'.git' is not a GitHub repository name: 1-100 letters, digits, '.', '-' or '_'",
        ),
        (
            "https://github.com/acme/" + "r" * 101,
            "invalid_repository",
            f"'{'r' * 44}…' is not a GitHub repository name: 1-100 letters, digits, '.', '-' or '_'",
        ),
        (
            "https://github.com/acme/pix\x00",
            "invalid_url",
            "must be a URL without spaces or control characters, e.g. https://github.com/{owner}/{repo}",
        ),
    ],
)
def test_github_url_refusals_say_why(given: str, code: str, message: str) -> None:
    _, errors = check_github_url(given)
    assert errors == [FieldError("github_url", code, message)]


# -- name, description ----------------------------------------------------------------------------------


def test_name_rules() -> None:
    assert check_name("  Integração \t de   PIX ") == ("Integração de PIX", [])
    assert check_name("x" * 200) == ("x" * 200, [])
    # Decomposed accents are composed (NFC): the length counts characters as people see them.
    assert check_name("Integrac\u0327a\u0303o") == ("Integração", [])
    assert check_name("   ")[1] == [FieldError("name", "blank", "must not be blank")]
    assert check_name("x" * 201)[1] == [FieldError("name", "too_long", "must be at most 200 characters (got 201)")]
    assert check_name("bad\x00name")[1] == [
        FieldError("name", "invalid_characters", "must not contain control characters")
    ]
    assert check_name("lone \ud800 surrogate")[1][0].code == "invalid_characters"


def test_description_rules() -> None:
    assert check_description(None) == ("", [])
    assert check_description("  linha 1\nlinha 2\t!  ") == ("linha 1\nlinha 2\t!", [])
    assert check_description("x" * 4000) == ("x" * 4000, [])
    assert check_description("x" * 4001)[1] == [
        FieldError("description", "too_long", "must be at most 4000 characters (got 4001)")
    ]
    assert check_description("bell\x07")[1] == [
        FieldError("description", "invalid_characters", "must not contain control characters")
    ]


# -- languages ------------------------------------------------------------------------------------------


def test_languages_are_a_curated_list_of_real_names() -> None:
    assert len(languages.LANGUAGES) >= 300
    assert len({n.casefold() for n in languages.LANGUAGES}) == len(languages.LANGUAGES)
    assert all(target in languages.LANGUAGES for target in languages.ALIASES.values())


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("python", "Python"),
        ("PYTHON", "Python"),
        ("  TypeScript ", "TypeScript"),
        ("c#", "C#"),
        ("golang", "Go"),
        ("cpp", "C++"),
        ("jupyter   notebook", "Jupyter Notebook"),
        ("objective-c", "Objective-C"),
        ("Visual Basic .NET", "Visual Basic .NET"),
    ],
)
def test_languages_match_case_insensitively(given: str, canonical: str) -> None:
    assert check_language(given) == (canonical, [])


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("pyhton", "'pyhton' is not a known programming language; did you mean Python, Cython or Pony?"),
        (
            "javscript",
            "'javscript' is not a known programming language; did you mean JavaScript, VBScript or MAXScript?",
        ),
        ("kotln", "'kotln' is not a known programming language; did you mean Kotlin?"),
        (
            "esperanto",
            "'esperanto' is not a known programming language (names as GitHub shows them, e.g. Python, TypeScript, "
            "C#, Jupyter Notebook)",
        ),
        ("x" * 65, f"'{'x' * 59}…' is not a known programming language"),
    ],
)
def test_unknown_languages_come_with_close_matches(given: str, message: str) -> None:
    assert check_language(given)[1] == [FieldError("language", "unknown_language", message)]


def test_blank_language() -> None:
    assert check_language("  ")[1] == [FieldError("language", "blank", "must name a programming language, e.g. Python")]


# -- tags -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "slug"),
    [
        ("Machine Learning", "machine-learning"),
        ("São Paulo", "sao-paulo"),
        ("C#", "c-sharp"),
        ("C++", "c-plus-plus"),
        ("Node.js", "node-js"),
        ("  --Open__Finance--  ", "open-finance"),
        ("ÆØ Straße", "aeo-strasse"),
        ("k8s", "k8s"),
    ],
)
def test_tags_become_slugs(given: str, slug: str) -> None:
    assert tag_slug(given) == slug


def test_tag_rules() -> None:
    assert check_tags(["PIX", "pix", " Pix ", "Payments"]) == (["pix", "payments"], [])
    assert check_tags([]) == ([], [])
    assert check_tags([f"t{i}" for i in range(20)])[1] == []
    assert check_tags([f"t{i}" for i in range(21)])[1] == [FieldError("tags", "too_many", "at most 20 tags (got 21)")]
    # Duplicates do not count against the limit...
    assert check_tags(["same"] * 30)[1] == []
    # ...but a list far beyond it is refused before any work.
    assert check_tags(["x"] * 101)[1] == [FieldError("tags", "too_many", "at most 20 tags (got 101)")]
    assert check_tags(["ok", "!!!", "y" * 41])[1] == [
        FieldError("tags.1", "invalid_tag", "'!!!' has no letters or digits to make a tag"),
        FieldError("tags.2", "too_long", "a tag must be at most 40 characters (got 41)"),
    ]
    assert check_tags(["機械学習"])[1] == [
        FieldError("tags.0", "invalid_tag", "'機械学習' has no letters or digits to make a tag")
    ]


# -- search parameters ------------------------------------------------------------------------------------


def test_query_rules() -> None:
    assert check_query("  integração pix ") == ("integração pix", [])
    assert check_query("") == ("", [])
    assert check_query("x" * 201)[1] == [FieldError("q", "too_long", "must be at most 200 characters (got 201)")]
    assert check_query("a\x00")[1] == [FieldError("q", "invalid_characters", "must not contain control characters")]
    assert check_query("de a o")[1] == []  # a short query: matched by prefix (`prefix_words`)
    assert prefix_words("de a o") == ["de", "a", "o"] and prefix_words("de kafka a") == []
    assert prefix_words("Go JS") == ["go", "js"] and prefix_words("São") == []
    assert check_query("— ! ?")[1][0].code == "no_search_terms"
    assert check_query(" ".join(f"w{i}" for i in range(10)))[1] == []
    assert check_query(" ".join(f"w{i}" for i in range(11)))[1] == [
        FieldError("q", "too_many_words", "at most 10 words (got 11)")
    ]
    assert check_owner("me") == ("me", [])
    assert check_owner("")[1] == [FieldError("owner", "invalid_owner", "must be 'me' or a user id")]


def test_time_bounds() -> None:
    assert parse_time("2024-05-01", "created_from", end=False) == (datetime(2024, 5, 1, tzinfo=UTC), [])
    assert parse_time("2024-05-01", "created_to", end=True) == (datetime(2024, 5, 2, tzinfo=UTC), [])
    assert parse_time("2024-05-01T12:00:00-03:00", "x", end=False) == (datetime(2024, 5, 1, 15, tzinfo=UTC), [])
    assert parse_time("2024-05-01T12:00:00", "x", end=False) == (datetime(2024, 5, 1, 12, tzinfo=UTC), [])
    for bad in ("yesterday", "2024-02-30", "2024-05-01 12:00", "9999-12-31T23:59:59-05:00", "1"):
        assert parse_time(bad, "created_from", end=False)[1][0].code == "invalid_datetime", bad
    assert parse_time("9999-12-31", "created_to", end=True)[1][0].code == "invalid_datetime"


# -- through the API ------------------------------------------------------------------------------------


async def test_all_field_errors_are_reported_at_once(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    response = await pocs.http.post(
        "/v1/pocs",
        json={
            "name": " ",
            "github_url": "https://gitlab.com/acme/pix",
            "language": "pyhton",
            "tags": ["ok", "???"],
            "description": "x" * 4001,
        },
        headers=admin.auth,
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == f"{pocs.settings.public_url}/problems/validation"
    assert problem["title"] == "Validation failed" and problem["status"] == 422
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [
        ("name", "blank"),
        ("github_url", "unsupported_host"),
        ("language", "unknown_language"),
        ("tags.1", "invalid_tag"),
        ("description", "too_long"),
    ]
    assert "only GitHub repository URLs are supported" in problem["detail"]
    # Nothing was stored.
    assert (await pocs.search(admin)).json()["items"] == []


async def test_patch_is_validated_like_create(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    poc = await pocs.create(admin, **poc_fields(1))
    response = await pocs.http.patch(
        f"/v1/pocs/{poc['id']}",
        json={"github_url": "https://github.com/acme", "tags": ["a"] * 101, "name": "y" * 201},
        headers=admin.auth,
    )
    assert response.status_code == 422
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("name", "too_long"),
        ("github_url", "not_a_repository"),
        ("tags", "too_many"),
    ]


async def test_missing_and_mistyped_fields_are_reported_with_the_others(pocs: PocHarness) -> None:
    """A missing `name` no longer hides the refused URL and language: one 422 names all three."""
    admin = await pocs.tenant()
    response = await pocs.http.post(
        "/v1/pocs", json={"github_url": "https://gitlab.com/a/b", "language": "klingon"}, headers=admin.auth
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == f"{pocs.settings.public_url}/problems/validation"
    assert sorted((e["field"], e["code"]) for e in problem["errors"]) == [
        ("github_url", "unsupported_host"),
        ("language", "unknown_language"),
        ("name", "missing"),
    ]
    mistyped = await pocs.http.post(
        "/v1/pocs", json={"name": 7, "github_url": "https://gitlab.com/a/b", "tags": "x"}, headers=admin.auth
    )
    assert mistyped.status_code == 422
    assert sorted((e["field"], e["code"], e["message"]) for e in mistyped.json()["errors"]) == [
        ("github_url", "unsupported_host", mistyped.json()["errors"][-1]["message"]),
        ("language", "missing", "is required"),
        ("name", "wrong_type", "must be a string"),
        ("tags", "wrong_type", "must be a list"),
    ]


async def test_framework_errors_use_our_type_and_messages(pocs: PocHarness) -> None:
    """Every 422 has one type, and no pydantic text ("Field required", "Input should be...") shows."""
    admin = await pocs.tenant()
    answers = [
        await pocs.http.post("/v1/pocs", json={"name": "x", "extra": 1}, headers=admin.auth),
        await pocs.http.get("/v1/pocs", params={"limit": "abc"}, headers=admin.auth),
        await pocs.http.get("/v1/pocs/facets", params={"top": "0"}, headers=admin.auth),
        await pocs.http.get("/v1/pocs", params={"q": "a\x00"}, headers=admin.auth),
    ]
    for response in answers:
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["type"] == f"{pocs.settings.public_url}/problems/validation"
        for error in problem["errors"]:
            assert not error["message"].startswith(("Field required", "Input should", "Extra inputs")), error
    assert {(e["field"], e["code"]) for e in answers[0].json()["errors"]} >= {
        ("extra", "unknown_field"),
        ("github_url", "missing"),
    }
