"""Several services' OpenAPI documents as one (the dev server's `/openapi.json`, one `/docs` page).

Paths are disjoint by construction (`deploy.services` gives each service its own prefixes): an operation
declared twice is an error. Components are merged by name: the same definition under the same name is
kept once; a different definition under a name already taken is renamed after its service
(`Problem` -> `PocProblem`) and every `$ref` of that service's document is rewritten to the new name.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

Document = dict[str, Any]


class OpenApiClash(ValueError):
    """Two services declare the same operation (method and path)."""


def _rewrite_refs(node: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                renames.get(value, value) if key == "$ref" and isinstance(value, str) else _rewrite_refs(value, renames)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    return node


def _prefix(service: str) -> str:
    return "".join(part.capitalize() for part in service.replace("-", "_").split("_"))


def merge_openapi(documents: Sequence[tuple[str, Document]], *, title: str, description: str = "") -> Document:
    """One document from `(service name, document)` pairs, in order."""
    merged: Document = {
        "openapi": documents[0][1].get("openapi", "3.1.0") if documents else "3.1.0",
        "info": {"title": title, "version": documents[0][1]["info"]["version"] if documents else "1.0.0"},
        "paths": {},
        "components": {},
    }
    if description:
        merged["info"]["description"] = description
    tags: dict[str, dict[str, Any]] = {}
    for service, original in documents:
        document = copy.deepcopy(original)
        renames: dict[str, str] = {}
        for section, entries in document.get("components", {}).items():
            taken = merged["components"].get(section, {})
            for name, definition in entries.items():
                if name in taken and taken[name] != definition:
                    new = _prefix(service) + name
                    if new in taken and taken[new] != definition:
                        raise OpenApiClash(f"components/{section}/{new} is declared twice, differently")
                    renames[f"#/components/{section}/{name}"] = f"#/components/{section}/{new}"
        document = _rewrite_refs(document, renames)
        for section, entries in document.get("components", {}).items():
            target = merged["components"].setdefault(section, {})
            for name, definition in entries.items():
                ref = f"#/components/{section}/{name}"
                final = renames.get(ref, ref).rsplit("/", 1)[1]
                target.setdefault(final, definition)
        for path, item in document.get("paths", {}).items():
            into = merged["paths"].setdefault(path, {})
            for method, operation in item.items():
                if method in into:
                    raise OpenApiClash(f"{method.upper()} {path} is declared by two services")
                into[method] = operation
        for tag in document.get("tags", ()):
            tags.setdefault(tag["name"], tag)
    if tags:
        merged["tags"] = list(tags.values())
    return merged
