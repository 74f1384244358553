"""The caller's names for a report's cover, from the identity service's API with the caller's own token
(`GET /v1/auth/me`): the media service never reads identity's tables (ARCHITECTURE §1).

`GET /v1/auth/me` shows every member their display name and their tenant's display name (`tenant_name`),
which the cover names the tenant by; an identity service that predates `tenant_name` (a rolling deploy)
gives the tenant's slug instead.
"""

from __future__ import annotations

import httpx

from media.errors import SourceUnavailable
from media.sources import CallerNames
from runtime.errors import NotFound, Unauthorized
from runtime.tracing import instrument_http_client


class IdentityClient:
    def __init__(self, base_url: str, *, timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None):
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport)
        instrument_http_client(self._http)

    async def caller_names(self, bearer: str) -> CallerNames:
        try:
            response = await self._http.get("/v1/auth/me", headers={"Authorization": f"Bearer {bearer}"})
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"the identity service cannot be reached: {type(exc).__name__}") from exc
        if response.status_code == 401:
            raise Unauthorized("The access token was refused by the identity service.")
        if response.status_code == 404:
            raise NotFound("The caller's account no longer exists.")
        if response.status_code != 200:
            raise SourceUnavailable(f"the identity service answered {response.status_code}")
        me = response.json()
        tenant = me.get("tenant_name") or me.get("tenant") or ""
        return CallerNames(tenant_name=str(tenant), user_name=str(me["display_name"]))

    async def aclose(self) -> None:
        await self._http.aclose()
