"""What `pocdojo dev` serves on its one port beside the services: one merged API document and docs page,
each service's own document at its own prefix (as in production behind the ALB), the problem types'
pages, and the same refusal of unknown query parameters on every documented route of every service."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.local import Dispatcher
from deploy.services import SERVICES
from runtime import errors as runtime_errors
from runtime.errors import ServiceError
from runtime.problems import PROBLEM_TYPES
from runtime.settings import Settings
from tests.conftest import serve_app
from tests.dojo.conftest import TICKET_SECRET

PROBLEM = "application/problem+json"


@dataclass
class Dev:
    base: str
    http: httpx.AsyncClient
    settings: Settings
    dispatcher: Dispatcher


@pytest.fixture
async def dev(make_settings: Callable[..., Settings], tmp_path: Path) -> AsyncIterator[Dev]:
    """Every service of `deploy.services`, mounted as `pocdojo dev` mounts them."""
    holder: dict[str, Any] = {}

    def factory(base: str) -> Any:
        settings = make_settings(public_url=base, ticket_secret=TICKET_SECRET, media_local_root=tmp_path / "objects")
        holder["settings"] = settings
        holder["dispatcher"] = Dispatcher([(spec.path_prefixes, spec.factory(settings)) for spec in SERVICES.values()])
        return holder["dispatcher"]

    async with serve_app(factory) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        yield Dev(base, http, holder["settings"], holder["dispatcher"])


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolves(document: dict[str, Any], ref: str) -> bool:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


async def test_one_document_holds_every_services_paths_and_its_references_resolve(dev: Dev) -> None:
    merged = await dev.http.get("/openapi.json")
    assert merged.status_code == 200
    document = merged.json()
    for name, spec in SERVICES.items():
        own = await dev.http.get(f"{spec.docs_prefix}/openapi.json")
        assert own.status_code == 200, (name, own.text)
        own_document = own.json()
        assert own_document["paths"], name
        assert sorted({ref for ref in _refs(own_document) if not _resolves(own_document, ref)}) == [], name
        assert "HTTPValidationError" not in own.text, f"{name} documents pydantic's 422 instead of a problem"
        for path, item in own_document["paths"].items():
            assert set(item) <= set(document["paths"][path]), (name, path)
    assert {"/v1/pocs", "/v1/dojos", "/v1/reports", "/v1/auth/token", "/v1/videos"} <= set(document["paths"])
    unresolved = sorted({ref for ref in _refs(document) if not _resolves(document, ref)})
    assert unresolved == []


async def test_colliding_component_names_are_kept_apart(dev: Dev) -> None:
    """The POC and media services each define a richer `Problem` than the shared one: all survive, each
    referenced by its own service's operations."""
    document = (await dev.http.get("/openapi.json")).json()
    poc_problem = (await dev.http.get("/v1/pocs/openapi.json")).json()["components"]["schemas"]["Problem"]
    media_problem = (await dev.http.get("/v1/reports/openapi.json")).json()["components"]["schemas"]["Problem"]
    assert poc_problem != media_problem
    schemas = document["components"]["schemas"]
    identity_problem = (await dev.http.get("/v1/auth/openapi.json")).json()["components"]["schemas"]["Problem"]
    assert next(iter(SERVICES)) == "identity"  # the first service keeps the name
    assert schemas["Problem"] == identity_problem
    assert schemas["PocProblem"]["properties"].keys() == poc_problem["properties"].keys()
    assert schemas["MediaProblem"]["properties"].keys() == media_problem["properties"].keys()
    videos = document["paths"]["/v1/videos"]["get"]["responses"]["401"]["content"][PROBLEM]["schema"]["$ref"]
    assert videos == "#/components/schemas/MediaProblem"
    pocs = document["paths"]["/v1/pocs"]["post"]["responses"]["422"]["content"][PROBLEM]["schema"]["$ref"]
    assert pocs == "#/components/schemas/PocProblem"


@pytest.mark.parametrize("path", ["/docs", *[f"{spec.docs_prefix}/docs" for spec in SERVICES.values()]])
async def test_docs_pages_are_served(dev: Dev, path: str) -> None:
    page = await dev.http.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "openapi.json" in page.text


def _all_error_classes() -> set[type[ServiceError]]:
    import dojo.app
    import identity.app
    import media.app
    import poc_api.app

    assert dojo.app and identity.app and media.app and poc_api.app and runtime_errors
    found: set[type[ServiceError]] = set()
    todo: list[type[ServiceError]] = [ServiceError]
    while todo:
        kind = todo.pop()
        found.add(kind)
        todo.extend(kind.__subclasses__())
    return found


async def test_every_problem_type_a_service_can_emit_resolves(dev: Dev) -> None:
    kinds = _all_error_classes()
    assert {"dojo-lobby", "invalid-grant", "range-not-satisfiable", "validation"} <= {k.slug for k in kinds}
    for kind in kinds:
        assert kind.slug in PROBLEM_TYPES, kind
    for slug, registered in PROBLEM_TYPES.items():
        page = await dev.http.get(f"/problems/{slug}")
        assert page.status_code == 200 and registered.explanation in page.text.replace("&#x27;", "'")
        as_json = await dev.http.get(f"/problems/{slug}", headers={"Accept": "application/json"})
        assert as_json.json()["status"] == registered.status
    missing = await dev.http.get("/problems/no-such-thing")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM


async def test_an_emitted_problem_type_url_is_the_page_explaining_it(dev: Dev) -> None:
    problem = (await dev.http.get("/v1/pocs", params={"langauge": "x"})).json()
    assert problem["type"] == f"{dev.base}/problems/validation"
    page = await dev.http.get(problem["type"].removeprefix(dev.base))
    assert page.status_code == 200 and "Validation failed" in page.text


async def test_an_undeclared_class_of_problem_is_refused_at_import() -> None:
    with pytest.raises(TypeError, match=r"not in runtime\.problems"):

        class Teapot(ServiceError):  # pragma: no cover - the definition itself raises
            status = 418
            slug = "teapot"


async def test_unknown_query_parameters_are_refused_on_every_documented_get(dev: Dev) -> None:
    """Every GET of every service (`{id}`s filled with a random UUID): an undeclared parameter is a 422 naming it,
    before anything else is looked at (no token is sent)."""
    document = (await dev.http.get("/openapi.json")).json()
    gets = [path for path, item in document["paths"].items() if "get" in item]
    assert {"/v1/pocs", "/v1/pocs/facets", "/v1/dojos", "/v1/reports", "/v1/videos", "/v1/users"} <= set(gets)
    for path in gets:
        concrete = "/".join(str(uuid.uuid4()) if part.startswith("{") else part for part in path.split("/"))
        response = await dev.http.get(concrete, params={"zzzunknown": "1"})
        assert response.status_code == 422, (path, response.text)
        problem = response.json()
        assert problem["type"].endswith("/problems/validation")
        assert [(e["field"], e["code"]) for e in problem["errors"]] == [("zzzunknown", "unknown_parameter")], path


@pytest.mark.parametrize(
    ("path", "given", "meant"),
    [
        ("/v1/pocs", "langauge", "language"),
        ("/v1/pocs", "tags", "tag"),
        ("/v1/pocs/facets", "tags", "tag"),
        ("/v1/dojos", "stauts", "status"),
        ("/v1/reports", "limt", "limit"),
        ("/v1/users", "cursr", "cursor"),
    ],
)
async def test_a_misspelt_parameter_gets_a_suggestion(dev: Dev, path: str, given: str, meant: str) -> None:
    response = await dev.http.get(path, params={given: "python"})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == given and error["code"] == "unknown_parameter"
    assert f"did you mean `{meant}`?" in error["message"]


async def test_declared_parameters_still_pass(dev: Dev) -> None:
    """Known parameters reach the route (here: its authentication, 401)."""
    for path, params in (("/v1/pocs", {"language": "python", "tag": ["a", "b"]}), ("/v1/dojos", {"status": "active"})):
        response = await dev.http.get(path, params=params)
        assert response.status_code == 401, (path, response.text)
