"""The composition root: one typed object per app, filled in by the startup steps in their order."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import Request

from runtime.http import create_service_app
from runtime.resources import database_startup
from runtime.root import AlreadyProvided, CompositionError, NotStarted, ServiceRoot, install_root, root_of
from runtime.settings import Settings
from runtime.supervisor import Supervisor
from tests.conftest import ServeApp


@dataclass
class ProbeServices:
    greeting: str


@dataclass
class OtherServices:
    greeting: str


def test_a_root_refuses_what_is_not_started_and_what_is_set_twice(make_settings: Callable[..., Settings]) -> None:
    root = ServiceRoot("probe", make_settings(), Supervisor("probe"))
    with pytest.raises(NotStarted, match="database"):
        _ = root.db
    with pytest.raises(NotStarted, match="verifier"):
        _ = root.verifier
    with pytest.raises(NotStarted, match="services"):
        root.services(ProbeServices)
    root.provide(ProbeServices("hello"))
    assert root.services(ProbeServices).greeting == "hello"
    with pytest.raises(CompositionError, match="ProbeServices, not OtherServices"):
        root.services(OtherServices)
    with pytest.raises(AlreadyProvided):
        root.provide(ProbeServices("again"))


def test_an_app_has_one_root(make_settings: Callable[..., Settings]) -> None:
    app = create_service_app(service="probe", title="probe", settings=make_settings())
    root = root_of(app)
    assert root.service == "probe" and [name for name, _ in root.readiness] == ["tasks"]
    with pytest.raises(AlreadyProvided):
        install_root(app, ServiceRoot("other", make_settings(), Supervisor("other")))


async def test_startup_steps_fill_the_root_in_order_and_handlers_read_it_typed(
    make_settings: Callable[..., Settings], serve: ServeApp
) -> None:
    seen: list[str] = []

    async def probe_startup(root: ServiceRoot, stack: AsyncExitStack) -> None:
        seen.append(type(root.db).__name__)  # the database step ran first
        stack.callback(seen.append, "stopped")
        root.provide(ProbeServices(await root.db.fetchval_global("SELECT 'from postgres'")))

    def factory(base: str) -> Any:
        app = create_service_app(
            service="probe", title="probe", settings=make_settings(), startup=[database_startup, probe_startup]
        )

        @app.get("/greeting")
        async def greeting(request: Request) -> dict[str, str]:
            return {"greeting": root_of(request.app).services(ProbeServices).greeting}

        return app

    async with serve(factory) as base, httpx.AsyncClient(base_url=base) as http:
        response = await http.get("/greeting")
        assert response.json() == {"greeting": "from postgres"}
        ready = await http.get("/readyz")
        assert ready.json()["checks"] == ["tasks", "postgres"]
    assert seen == ["Database", "stopped"]
