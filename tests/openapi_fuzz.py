"""Fuzz a service's OpenAPI document with schemathesis against the running service (synchronous:
call it from a worker thread while the service serves from the test's event loop)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

Targets = Callable[[Any], list[dict[str, Any] | None]]
"""For an operation: the path parameters to fuzz it with (None: generated ones)."""


def fuzz(
    base: str, document: dict[str, Any], token: str, *, targets: Targets, checks: Sequence[Any], examples: int
) -> dict[str, int]:
    """Run every operation × generation mode × target with a bearer token; every response must pass
    `checks`. Returns how many cases each (operation, mode, target) ran."""
    schema = schemathesis.openapi.from_dict(document)
    headers = {"Authorization": f"Bearer {token}"}
    ran: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in schemathesis.GenerationMode:
            for path_parameters in targets(operation):
                label = f"{operation.method.upper()} {operation.path} {mode.value}{' known' if path_parameters else ''}"
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
                count = 0

                @given(case=strategy)
                @settings(
                    max_examples=examples,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                def check(case: schemathesis.Case) -> None:
                    nonlocal count
                    count += 1
                    response = case.call(base_url=base, headers=headers, timeout=30)
                    case.validate_response(response, checks=list(checks))

                check()
                ran[label] = count
    return ran
