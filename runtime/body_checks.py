"""A route's own field rules, run also when the framework refused the body, so one 422 lists every field.

FastAPI validates a body model (types, required fields) before the handler runs; a handler's own rules
(a GitHub URL's host, a known language) would then never run, and a client would learn of one mistake
per round trip. A route declares its rules with `@checks_body(rule)`: the handler calls `rule` on a valid
body as usual, and the validation handler (`runtime.http`) calls it on the raw body of a refused one,
telling it which fields already have an error (it checks only the others).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from runtime.errors import FieldError

BodyRule = Callable[[Mapping[str, Any], frozenset[str]], list[FieldError]]
"""`(raw body, fields already refused) -> errors of the other fields`."""

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])

_ATTRIBUTE = "__pocdojo_body_rule__"


def checks_body(rule: BodyRule) -> Callable[[Endpoint], Endpoint]:
    """Declare `rule` as the body rule of the decorated endpoint (put it under the route decorator)."""

    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _ATTRIBUTE, rule)
        return endpoint

    return mark


def more_body_errors(route: object, body: Any, refused: Sequence[FieldError]) -> list[FieldError]:
    """The errors `route`'s body rule finds in `body` beyond the fields `refused` already names."""
    rule: BodyRule | None = getattr(getattr(route, "endpoint", None), _ATTRIBUTE, None)
    if rule is None or not isinstance(body, Mapping):
        return []
    fields = frozenset(error.field.split(".", 1)[0] for error in refused)
    return rule(body, fields)
