"""Fixtures for the realtime tests: identity + dojo served together (like `pocdojo dev`), on the
fast-path protocol by default, restartable on the same port."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from deploy.local import Dispatcher
from deploy.services import COLLAB_PROTOCOL, SERVICES
from runtime.ports import free_port
from runtime.settings import Settings
from tests.conftest import OPERATOR_TOKEN
from tests.identity.harness import GOOD_PASSWORD

TICKET_SECRET = secrets.token_urlsafe(48)


@dataclass
class User:
    tenant: str
    tenant_id: str
    email: str
    access_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def _sign_in(http: httpx.AsyncClient, tenant: str, email: str) -> str:
    token = await http.post(
        "/v1/auth/token",
        data={"grant_type": "password", "tenant": tenant, "username": email, "password": GOOD_PASSWORD},
    )
    assert token.status_code == 200, token.text
    access: str = token.json()["access_token"]
    return access


async def sign_up(http: httpx.AsyncClient, tenant: str | None = None, email: str | None = None) -> User:
    """A new tenant's admin `admin@<tenant>.example.com` (or, if `tenant` exists, a new member of it that
    this admin creates, as a real tenant adds people), signed in through `http`."""
    tenant = tenant or f"t{uuid.uuid4().hex[:10]}"
    admin_email = f"admin@{tenant}.example.com"
    email = email or admin_email
    created = await http.post(
        "/v1/tenants",
        json={"slug": tenant, "name": tenant, "admin_email": email, "admin_password": GOOD_PASSWORD},
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
    )
    assert created.status_code in (201, 409), created.text
    if created.status_code == 409:  # the tenant exists: its admin adds a member
        admin = await _sign_in(http, tenant, admin_email)
        response = await http.post(
            "/v1/users", json={"email": email, "password": GOOD_PASSWORD}, headers={"Authorization": f"Bearer {admin}"}
        )
        assert response.status_code == 201, response.text
    access = await _sign_in(http, tenant, email)
    claims = jwt.decode(access, options={"verify_signature": False})
    return User(tenant, claims["tenant_id"], email, access)


@dataclass
class CollabServer:
    settings_factory: Callable[..., Settings]
    ws_protocol: str = COLLAB_PROTOCOL
    overrides: dict[str, Any] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None
    app: Dispatcher | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/collab"

    @property
    def settings(self) -> Settings:
        return self.settings_factory(
            public_url=self.base, ticket_secret=TICKET_SECRET, collab_idle_unload_seconds=0.5, **self.overrides
        )

    async def start(self) -> None:
        settings = self.settings
        self.app = Dispatcher([(spec.path_prefixes, spec.factory(settings)) for spec in SERVICES.values()])
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            ws=self.ws_protocol,
            ws_per_message_deflate=False,
            ws_max_size=settings.collab_max_frame_bytes,
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(1000):
            if self._server.started or self._task.done():
                break
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()
            raise RuntimeError("server exited during startup")

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._task, timeout=30)
            self._server = self._task = None

    @property
    def dojo_app(self) -> Any:
        assert self.app is not None
        return self.app.apps[1]

    async def user(self, http: httpx.AsyncClient, tenant: str | None = None, email: str | None = None) -> User:
        return await sign_up(http, tenant, email)

    async def ticket(self, http: httpx.AsyncClient, user: User, room: str, mode: str = "read-write") -> str:
        response = await http.post("/v1/collab/tickets", json={"room": room, "mode": mode}, headers=user.auth)
        assert response.status_code == 201, response.text
        ticket: str = response.json()["ticket"]
        return ticket


@pytest.fixture
async def collab(make_settings: Callable[..., Settings]) -> AsyncIterator[CollabServer]:
    server = CollabServer(make_settings)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def http(collab: CollabServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=collab.base, timeout=30) as client:
        yield client


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(http: httpx.AsyncClient) -> Samples:
    """Every sample `GET /metrics` answers now (name and labels → value)."""
    response = await http.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when absent (a labelled counter not incremented yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)
