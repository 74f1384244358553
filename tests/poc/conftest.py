"""Fixtures for the POC tests: identity and the POC service served together on one port (like
`pocdojo dev`), the POC service verifying tokens with the JWKS it fetches over HTTP from the issuer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from deploy.local import DatabaseUrls, Dispatcher
from deploy.services import SERVICES
from identity.app import create_app as create_identity_app
from poc_api.app import create_app as create_poc_app
from runtime.settings import Settings
from tests.conftest import serve_app
from tests.identity.harness import Account, IdentityHarness

PROBLEM = "application/problem+json"


def subject(account: Account) -> str:
    """The user id the tokens of `account` carry (the POC owner id)."""
    claims = jwt.decode(account.access_token, options={"verify_signature": False})
    return str(claims["sub"])


def poc_fields(n: int = 0, **overrides: Any) -> dict[str, Any]:
    """A valid POC body; `n` makes the repository unique."""
    body: dict[str, Any] = {
        "name": f"POC número {n}",
        "github_url": f"https://github.com/acme/poc-{n}",
        "language": "python",
        "tags": ["Demo"],
        "description": "Uma prova de conceito.",
    }
    body.update(overrides)
    return body


@dataclass
class PocHarness:
    base: str
    http: httpx.AsyncClient
    settings: Settings
    database: DatabaseUrls
    identity: IdentityHarness
    poc_app: FastAPI

    async def tenant(self, slug: str | None = None) -> Account:
        """A new tenant; returns its administrator, signed in."""
        return await self.identity.create_tenant(slug)

    async def member(self, admin: Account, name: str = "member") -> Account:
        return await self.identity.add_user(admin, f"{name}@{admin.tenant}.example.com", ["member"])

    async def create(self, account: Account, **fields: Any) -> dict[str, Any]:
        response = await self.http.post("/v1/pocs", json=fields, headers=account.auth)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def search(self, account: Account, **params: Any) -> httpx.Response:
        return await self.http.get("/v1/pocs", params=params, headers=account.auth)

    async def search_all(self, account: Account, **params: Any) -> list[dict[str, Any]]:
        """Every page of a search, following the cursors."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            response = await self.search(account, **params, **({"cursor": cursor} if cursor else {}))
            assert response.status_code == 200, response.text
            page = response.json()
            items.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return items


@asynccontextmanager
async def poc_harness(
    make_settings: Callable[..., Settings], database: DatabaseUrls, **overrides: Any
) -> AsyncIterator[PocHarness]:
    """Identity and the POC service on one port, with these settings overrides."""
    holder: dict[str, Any] = {}

    def factory(base: str) -> Any:
        settings = make_settings(public_url=base, **overrides)
        holder["settings"] = settings
        holder["app"] = create_poc_app(settings)
        return Dispatcher(
            [
                (SERVICES["identity"].path_prefixes, create_identity_app(settings)),
                (SERVICES["poc"].path_prefixes, holder["app"]),
            ]
        )

    async with serve_app(factory) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        settings = holder["settings"]
        yield PocHarness(base, http, settings, database, IdentityHarness(base, http, settings), holder["app"])


@pytest.fixture
async def pocs(make_settings: Callable[..., Settings], database: DatabaseUrls) -> AsyncIterator[PocHarness]:
    async with poc_harness(make_settings, database) as harness:
        yield harness
