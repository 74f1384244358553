"""Members' display names, from the identity service's directory with the caller's own token
(`GET /v1/members?id=...`, README §Members): the dojo service never reads identity's tables."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import httpx

from runtime.tracing import instrument_http_client

log = logging.getLogger("dojo.directory")

MAX_IDS = 100
"""The directory resolves at most this many ids per call."""


class DirectoryUnavailable(Exception):
    """The identity directory could not answer."""


class MemberDirectory:
    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)
        instrument_http_client(self._http)

    async def names(self, bearer: str, user_ids: Iterable[str]) -> dict[str, str]:
        """{user id: display name} of those of ``user_ids`` the directory knows (deleted accounts are
        missing). Raises :class:`DirectoryUnavailable`."""
        wanted = sorted(set(user_ids))
        names: dict[str, str] = {}
        for start in range(0, len(wanted), MAX_IDS):
            chunk = wanted[start : start + MAX_IDS]
            params: list[tuple[str, str | int | float | bool | None]] = [("id", u) for u in chunk]
            try:
                response = await self._http.get(
                    "/v1/members",
                    params=[*params, ("limit", MAX_IDS)],
                    headers={"Authorization": f"Bearer {bearer}"},
                )
            except httpx.HTTPError as exc:
                raise DirectoryUnavailable(f"the identity service cannot be reached: {type(exc).__name__}") from exc
            if response.status_code != 200:
                raise DirectoryUnavailable(f"the identity directory answered {response.status_code}")
            for item in response.json().get("items", []):
                names[str(item["id"])] = str(item["display_name"])
        return names

    async def aclose(self) -> None:
        await self._http.aclose()
