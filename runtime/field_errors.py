"""Framework validation errors (pydantic's, as FastAPI reports them) turned into our `FieldError`s.

Each kind of error gets our own code and message, so a 422 never mixes pydantic's texts ("Field
required", "Input should be...") with the services' own:

| pydantic kinds                                   | code            | message                              |
|--------------------------------------------------|-----------------|--------------------------------------|
| missing                                          | `missing`       | is required                          |
| *_type, *_parsing (str, int, bool, list, object) | `wrong_type`    | must be a string / an integer / ...  |
| string_too_long, too_long                        | `too_long`      | must be at most N characters / items |
| string_too_short, too_short                      | `too_short`     | must be at least N characters / items|
|   (at least 1)                                   | `blank`         | must not be empty                    |
| greater_than*, less_than*                        | `out_of_range`  | must be at least / at most N         |
| literal_error, enum                              | `not_one_of`    | must be one of: a, b                 |
| extra_forbidden                                  | `unknown_field` | is not a field of this request       |
| uuid_*                                           | `invalid_uuid`  | must be a UUID                       |
| string_unicode                                   | `invalid_text`  | must be valid Unicode text           |
| value_error (our own validators: `runtime.text`) | `invalid`       | the validator's own message          |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runtime.errors import FieldError

_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})

_TYPE_NAMES = {
    "string": "a string",
    "int": "an integer",
    "float": "a number",
    "decimal": "a number",
    "bool": "true or false",
    "list": "a list",
    "tuple": "a list",
    "set": "a list",
    "dict": "a JSON object",
    "model": "a JSON object",
    "model_attributes": "a JSON object",
    "datetime": "an RFC 3339 date-time",
    "date": "a date (YYYY-MM-DD)",
    "bytes": "a string",
    "url": "a URL",
}


def field_name(loc: Sequence[Any]) -> str:
    """`("body", "tags", 2)` -> `tags.2`; the body itself is `body`."""
    parts = [str(p) for i, p in enumerate(loc) if not (i == 0 and p in _LOCATIONS)]
    return ".".join(parts) or "body"


def _wrong_type(kind: str) -> str | None:
    for suffix in ("_type", "_parsing"):
        if kind.endswith(suffix):
            name = _TYPE_NAMES.get(kind.removesuffix(suffix))
            if name is not None:
                return f"must be {name}"
    if kind in ("int_from_float", "is_instance_of", "dataclass_type"):
        return "must be " + _TYPE_NAMES["int" if kind == "int_from_float" else "model"]
    return None


def _one_of(ctx: Mapping[str, Any]) -> str:
    expected = str(ctx.get("expected", ""))
    return f"must be one of: {expected.replace(' or ', ', ')}" if expected else "is not one of the accepted values"


def from_framework(error: Mapping[str, Any]) -> FieldError:
    """One pydantic error (`RequestValidationError.errors()` item) as our field error."""
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    field = field_name(error.get("loc", ()))
    if kind == "missing":
        return FieldError(field, "missing", "is required")
    if kind == "extra_forbidden":
        return FieldError(field, "unknown_field", "is not a field of this request")
    if kind in ("string_too_long", "too_long"):
        unit = "characters" if kind.startswith("string") else "items"
        return FieldError(field, "too_long", f"must be at most {ctx.get('max_length')} {unit}")
    if kind in ("string_too_short", "too_short"):
        unit = "characters" if kind.startswith("string") else "items"
        least = ctx.get("min_length")
        if least == 1:
            return FieldError(field, "blank", "must not be empty")
        return FieldError(field, "too_short", f"must be at least {least} {unit}")
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        word = "at least" if kind == "greater_than_equal" else "greater than"
        return FieldError(field, "out_of_range", f"must be {word} {bound}")
    if kind in ("less_than_equal", "less_than"):
        bound = ctx.get("le", ctx.get("lt"))
        word = "at most" if kind == "less_than_equal" else "less than"
        return FieldError(field, "out_of_range", f"must be {word} {bound}")
    if kind in ("literal_error", "enum"):
        return FieldError(field, "not_one_of", _one_of(ctx))
    if kind == "string_unicode":
        return FieldError(field, "invalid_text", "must be valid Unicode text (it holds a lone surrogate)")
    if kind.startswith("uuid_"):
        return FieldError(field, "invalid_uuid", "must be a UUID")
    if kind in ("value_error", "assertion_error"):
        reason = ctx.get("error")
        message = str(reason) if reason is not None else "is not valid"
        return FieldError(field, "invalid", message)
    wrong = _wrong_type(kind)
    if wrong is not None:
        return FieldError(field, "wrong_type", wrong)
    return FieldError(field, "invalid", "is not valid")


def from_framework_errors(errors: Sequence[Mapping[str, Any]]) -> list[FieldError]:
    return [from_framework(e) for e in errors]
