"""The service registry: each service's schema, app factory and the paths it answers.

The same path table drives the dev-mode dispatcher (`deploy.local`) and the ALB listener rules in
the AWS stack, so local routing and production routing cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI

from runtime.migrations import ServiceSchema
from runtime.settings import Settings


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    schema: ServiceSchema | None
    path_prefixes: tuple[str, ...]
    factory: Callable[[Settings], FastAPI]


def _identity(settings: Settings) -> FastAPI:
    from identity.app import create_app

    return create_app(settings)


SERVICES: dict[str, ServiceSpec] = {
    "identity": ServiceSpec(
        "identity",
        ServiceSchema("identity", "identity"),
        ("/v1/auth/", "/v1/tenants", "/v1/tenant", "/v1/users", "/.well-known/"),
        _identity,
    ),
}


def schemas() -> list[ServiceSchema]:
    return [spec.schema for spec in SERVICES.values() if spec.schema is not None]
