"""A running identity service and helpers to drive it: the `identity` fixture (registered by the conftest of
the test folders that use it) and the accounts it makes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from identity.app import create_app
from runtime.settings import Settings
from tests.conftest import OPERATOR_TOKEN, serve_app

GOOD_PASSWORD = "correct horse battery staple 42"


@dataclass
class Account:
    tenant_id: str
    tenant: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@dataclass
class IdentityHarness:
    base: str
    http: httpx.AsyncClient
    settings: Settings

    async def create_tenant(self, slug: str | None = None, **extra: Any) -> Account:
        slug = slug or f"t{uuid.uuid4().hex[:10]}"
        email = f"admin@{slug}.example.com"
        response = await self.http.post(
            "/v1/tenants",
            json={
                "slug": slug,
                "name": f"Tenant {slug}",
                "admin_email": email,
                "admin_password": GOOD_PASSWORD,
                **extra,
            },
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        )
        assert response.status_code == 201, response.text
        tenant_id = response.json()["id"]
        return await self.login(slug, email, GOOD_PASSWORD, tenant_id=tenant_id)

    async def login(
        self, tenant: str, email: str, password: str, *, tenant_id: str = "", headers: dict[str, str] | None = None
    ) -> Account:
        response = await self.password_grant(tenant, email, password, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        return Account(tenant_id, tenant, email, password, body["access_token"], body["refresh_token"])

    async def password_grant(
        self, tenant: str, email: str, password: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.http.post(
            "/v1/auth/token",
            data={"grant_type": "password", "tenant": tenant, "username": email, "password": password},
            headers=headers,
        )

    async def add_user(self, admin: Account, email: str, roles: list[str] | None = None) -> Account:
        response = await self.http.post(
            "/v1/users",
            json={"email": email, "password": GOOD_PASSWORD, "roles": roles or ["member"]},
            headers=admin.auth,
        )
        assert response.status_code == 201, response.text
        return await self.login(admin.tenant, email, GOOD_PASSWORD, tenant_id=admin.tenant_id)


@pytest.fixture
async def identity(make_settings: Callable[..., Settings]) -> AsyncIterator[IdentityHarness]:
    holder: dict[str, Settings] = {}

    def factory(base: str) -> Any:
        settings = make_settings(public_url=base, trusted_proxy_hops=1)
        holder["settings"] = settings
        return create_app(settings)

    async with serve_app(factory) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        yield IdentityHarness(base, http, holder["settings"])
