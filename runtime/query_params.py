"""Unknown query parameters refused: `?langauge=python` is a 422 naming the parameter (did you mean
`language`?), never a search that silently ignores it.

What a route accepts is what the service's OpenAPI document declares for it (the parameters FastAPI
derives from the handler's signature, and those a hand-read route such as the POC search documents in
`openapi_extra`), so the document and the behaviour cannot drift. Routes outside the document (health,
metrics, docs) are not checked. `create_service_app` installs `refuse_unknown_query` as a dependency of
every route; hot routes (`ServiceApp.add_hot_route`) call `DeclaredQueries.check` themselves.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import Request
from starlette.types import Scope

from runtime.errors import FieldError, ValidationFailed

Route = tuple[str, str]
"""(method, path template) as the OpenAPI document keys an operation."""


def declared_queries(document: Mapping[str, Any]) -> dict[Route, frozenset[str]]:
    """Every operation's query parameter names in an OpenAPI document."""
    table: dict[Route, frozenset[str]] = {}
    for path, item in document.get("paths", {}).items():
        shared = [p for p in item.get("parameters", ()) if p.get("in") == "query"]
        for method, operation in item.items():
            if not isinstance(operation, dict) or method == "parameters":
                continue
            names = {p["name"] for p in [*shared, *operation.get("parameters", ())] if p.get("in") == "query"}
            table[(method.upper(), path)] = frozenset(names)
    return table


def unknown_parameter(name: str, known: frozenset[str]) -> FieldError:
    """The error for `name`, suggesting the closest declared name (`tags` -> `tag`)."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    if close:
        message = f"is not a parameter of this endpoint; did you mean `{close[0]}`?"
    elif known:
        message = "is not a parameter of this endpoint (it takes " + ", ".join(f"`{k}`" for k in sorted(known)) + ")"
    else:
        message = "is not a parameter of this endpoint (it takes none)"
    return FieldError(name, "unknown_parameter", message)


class DeclaredQueries:
    """The query parameters each documented route of an app declares, read from its OpenAPI document once."""

    def __init__(self, document: Callable[[], Mapping[str, Any]]) -> None:
        self._document = document
        self._table: dict[Route, frozenset[str]] | None = None

    def known(self, method: str, path: str) -> frozenset[str] | None:
        """The names `method path` declares, or None when the route is not in the document."""
        if self._table is None:
            self._table = declared_queries(self._document())
        return self._table.get(("GET" if method == "HEAD" else method, path))

    def check(self, scope: Scope) -> None:
        """Raise `ValidationFailed` naming every query parameter the matched route does not declare."""
        query: bytes = scope.get("query_string", b"")
        if not query:
            return
        route = scope.get("route")
        path = getattr(route, "path_format", None) or getattr(route, "path", None)
        if path is None:
            return
        known = self.known(scope["method"], path)
        if known is None:
            return
        given = Request(scope).query_params.keys()
        unknown = [name for name in dict.fromkeys(given) if name not in known]
        if unknown:
            raise ValidationFailed([unknown_parameter(name, known) for name in unknown])


async def refuse_unknown_query(request: Request) -> None:
    """The dependency every route of a service app runs (`create_service_app`)."""
    queries = getattr(request.app, "declared_queries", None)
    if not isinstance(queries, DeclaredQueries):
        raise TypeError("refuse_unknown_query runs on apps made by runtime.http.create_service_app only")
    queries.check(request.scope)
