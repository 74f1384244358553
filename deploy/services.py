"""The service registry: each service's schema, app factory and the paths it answers.

The same path table drives the dev-mode dispatcher (`deploy.local`) and the ALB listener rules in
the AWS stack, so local routing and production routing cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic

from fastapi import FastAPI
from typing_extensions import TypeVar

from runtime.migrations import ServiceSchema
from runtime.settings import DojoSettings, IdentitySettings, MediaSettings, PocSettings, SharedSettings

S = TypeVar("S", bound=SharedSettings, default=Any)


@dataclass(frozen=True)
class ServiceSpec(Generic[S]):
    name: str
    schemas: tuple[ServiceSchema, ...]
    path_prefixes: tuple[str, ...]
    settings_class: type[S]
    """What `pocdojo serve NAME` reads from the environment: the service's own settings class."""
    factory: Callable[[S], FastAPI]
    docs_prefix: str = ""
    """The service's own OpenAPI document and docs page: `{docs_prefix}/openapi.json`, `{docs_prefix}/docs`
    (by default under its first path prefix)."""
    ws_protocol: str = "websockets-sansio"
    """uvicorn's `ws=`: the dojo service runs the collab fast path."""

    def __post_init__(self) -> None:
        if not self.docs_prefix:
            object.__setattr__(self, "docs_prefix", self.path_prefixes[0].rstrip("/"))
        if not any(self.docs_prefix + "/" == p or self.docs_prefix.startswith(p) for p in self.path_prefixes):
            raise ValueError(f"{self.name}: the docs prefix {self.docs_prefix!r} is not one of its path prefixes")


def _identity(settings: IdentitySettings) -> FastAPI:
    from identity.app import create_app

    return create_app(settings)


def _poc(settings: PocSettings) -> FastAPI:
    from poc_api.app import create_app

    return create_app(settings)


def _media(settings: MediaSettings) -> FastAPI:
    from media.app import create_app

    return create_app(settings)


def _dojo(settings: DojoSettings) -> FastAPI:
    from dojo.app import create_app

    return create_app(settings)


COLLAB_PROTOCOL = "dojo.fastpath:CollabWebSocketProtocol"

SERVICES: dict[str, ServiceSpec[Any]] = {
    "identity": ServiceSpec(
        "identity",
        (ServiceSchema("identity", "identity"),),
        (
            "/v1/auth/",
            "/v1/tenants",
            "/v1/tenant",
            "/v1/users",
            "/v1/members",
            "/v1/invitations",
            "/.well-known/",
            "/problems",
        ),
        IdentitySettings,
        _identity,
    ),
    "dojo": ServiceSpec(
        "dojo",
        (ServiceSchema("crdt", "crdt"), ServiceSchema("dojo", "dojo")),
        ("/v1/collab", "/v1/dojos", "/v1/signal"),
        DojoSettings,
        _dojo,
        "/v1/dojos",
        ws_protocol=COLLAB_PROTOCOL,
    ),
    "poc": ServiceSpec("poc", (ServiceSchema("poc", "poc_api"),), ("/v1/pocs",), PocSettings, _poc),
    "media": ServiceSpec(
        "media", (ServiceSchema("media", "media"),), ("/v1/reports", "/v1/videos", "/v1/media/"), MediaSettings, _media
    ),
}


def schemas() -> list[ServiceSchema]:
    return [schema for spec in SERVICES.values() for schema in spec.schemas]
