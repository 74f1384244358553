"""A service's OpenAPI document describes its errors as they are: RFC 9457 problems.

FastAPI documents a 422 of pydantic's own shape (`HTTPValidationError`) on every route with parameters;
our services answer `application/problem+json` instead (`runtime.http`). `describe_problems` replaces
those responses with the `Problem` schema, adds `Problem` and `FieldProblem` to the components when the
service has not defined richer ones, and drops FastAPI's two schemas.
"""

from __future__ import annotations

from typing import Any

PROBLEM_JSON = "application/problem+json"
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"
_PROBLEM_REF = "#/components/schemas/Problem"

FIELD_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "FieldProblem",
    "required": ["field", "code", "message"],
    "properties": {
        "field": {"type": "string", "description": "The field or parameter, e.g. `name`, `tags.2`, `limit`."},
        "code": {"type": "string", "description": "`missing`, `wrong_type`, `too_long`, `unknown_parameter`..."},
        "message": {"type": "string", "description": "Human-readable explanation."},
    },
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details (`application/problem+json`). `type` is `{public URL}/problems/{slug}`: "
    "GET it for an explanation.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/FieldProblem"},
            "description": "On 422: every invalid field or parameter.",
        },
    },
    "additionalProperties": True,
}


def _documents_fastapi_422(response: Any) -> bool:
    content = response.get("content", {}) if isinstance(response, dict) else {}
    return any(media.get("schema", {}).get("$ref") == _FASTAPI_422 for media in content.values())


def describe_problems(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with FastAPI's validation error responses replaced by problems (changed in place)."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses", {}) if isinstance(operation, dict) else {}
            if _documents_fastapi_422(responses.get("422")):
                responses["422"] = {
                    "description": "Invalid fields or parameters: `errors` lists each one.",
                    "content": {PROBLEM_JSON: {"schema": {"$ref": _PROBLEM_REF}}},
                }
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.setdefault("Problem", PROBLEM_SCHEMA)
    schemas.setdefault("FieldProblem", FIELD_PROBLEM_SCHEMA)
    return document
