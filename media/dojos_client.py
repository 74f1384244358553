"""The media service's client of the dojo service's history API (docs/replay.md): what a replay video is
made from. Media may not import the dojo service: it calls it over HTTP, as it calls the POC service.

- `history(auth, dojo_id)`: `GET /v1/dojos/{id}/history` → `ReplayHistory` (authors and colours,
  rotations, chat, idle stretches);
- `title(bearer, dojo_id)`: the dojo's title (`GET /v1/dojos/{id}`), shown in the video's header;
- `grant(bearer, dojo_id)`: `POST /v1/dojos/{id}/history/grants` → a `HistoryGrant`, and `revoke(grant)`;
- `frames(auth, dojo_id, instants)`: `POST /v1/dojos/{id}/history/frames` streamed, one NDJSON line per
  instant (`parse_frame` reads one), asked in batches of at most `MAX_INSTANTS`.

At request time the media API calls with the caller's own bearer token (the dojo's access rules,
participants and tenant admins, decide) and obtains a grant; the worker later reads the history and the
frames with that grant (`auth` a `HistoryGrant`, sent as `History-Grant`), since the token will have
expired by then — as a report reads its POC export (`media.pocs_client`). Errors, translated here once
(`media.errors`): 404 → `DojoNotFound`, 409 `history-off` → `DojoHistoryOff`, 401/403 → `DojoAccessDenied`,
unreachable, timing out or 5xx → `DojoHistoryUnavailable` (a job retries), anything else refused or
unreadable → `DojoHistoryError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx
import orjson

from media.errors import DojoAccessDenied, DojoHistoryError, DojoHistoryOff, DojoHistoryUnavailable, DojoNotFound
from media.video.colors import RGB
from media.video.replay_model import (
    Author,
    ChatLine,
    FileRuns,
    Frame,
    Idle,
    ReplayHistory,
    Rotation,
    Run,
)
from runtime.settings import MediaSettings
from runtime.tracing import instrument_http_client

TIMEOUT_SECONDS = 30.0
"""Connect, write, pool, and the wait for each piece of an answer (a frames stream's next line included)."""
MAX_INSTANTS = 20_000
"""Instants one frames request may ask for (the dojo service's limit)."""
HISTORY_OFF = "history-off"
GRANT_HEADER = "History-Grant"
GRANT_GONE = "The permission to read the dojo's history expired or was revoked; ask for the video again."


@dataclass(frozen=True)
class HistoryGrant:
    """A grant the dojo service made: what the worker needs to read one dojo's history (kept with the job)."""

    id: str
    dojo_id: str
    secret: str = field(repr=False)
    expires_at: datetime


DojoAuth = str | HistoryGrant
"""How a call is authorized: a caller's bearer token (at request time) or a history grant (the worker)."""


def _headers(auth: DojoAuth) -> dict[str, str]:
    if isinstance(auth, HistoryGrant):
        return {GRANT_HEADER: auth.secret}
    return {"Authorization": f"Bearer {auth}"}


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _refusal(response: httpx.Response, what: str, *, granted: bool = False) -> DojoHistoryError:
    """The error of a non-2xx answer (the body already read); `granted`: the call carried a grant."""
    status = response.status_code
    problem = _problem(response)
    detail = str(problem.get("detail") or f"the dojo service answered {status}")
    if status >= 500:
        return DojoHistoryUnavailable(f"The dojo service failed ({status}); retrying later.")
    if status == 404:
        return DojoNotFound("No such dojo, or you did not take part in it.")
    if status == 409 and (str(problem.get("type", "")).endswith(HISTORY_OFF) or problem.get("code") == HISTORY_OFF):
        return DojoHistoryOff("Your organization keeps no history of its dojos: there is nothing to replay.")
    if status in (401, 403) and granted:
        return DojoAccessDenied(f"{GRANT_GONE} ({detail})")
    if status in (401, 403):
        return DojoAccessDenied(
            f"The dojo service refused your access token ({detail}): it expired or was revoked; "
            "ask for the video again."
        )
    return DojoHistoryError(f"The dojo service refused {what} ({status}: {detail}).")


def _time(value: object) -> datetime:
    if not isinstance(value, str):
        raise TypeError("a time must be a string")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _color(value: object) -> RGB:
    if not isinstance(value, str) or len(value) != 7 or not value.startswith("#"):
        raise ValueError(f"not a #RRGGBB colour: {value!r}")
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def _optional_id(value: object) -> str | None:
    return None if value is None else str(value)


def _items(body: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = body.get(key) or []
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        raise TypeError(f"`{key}` must be a list of objects")
    return items


def parse_history(body: Mapping[str, Any]) -> ReplayHistory:
    """A `GET /v1/dojos/{id}/history` answer as the renderer reads it (`DojoHistoryError` if unreadable)."""
    try:
        ended = body.get("ended_at")
        return ReplayHistory(
            dojo_id=str(body["dojo_id"]),
            started_at=_time(body["started_at"]),
            ended_at=None if ended is None else _time(ended),
            duration_ms=int(body["duration_ms"]),
            files=tuple(str(path) for path in body.get("files") or []),
            authors=tuple(
                Author(str(a["user_id"]), str(a.get("display_name") or str(a["user_id"])[:8]), _color(a["color"]))
                for a in _items(body, "authors")
            ),
            rotations=tuple(
                Rotation(int(r["t_ms"]), _optional_id(r.get("driver_id")), _optional_id(r.get("navigator_id")))
                for r in _items(body, "rotations")
            ),
            chat=tuple(
                ChatLine(int(c["t_ms"]), _optional_id(c.get("user_id")), str(c["text"])) for c in _items(body, "chat")
            ),
            idle=tuple(Idle(int(i["from_ms"]), int(i["to_ms"])) for i in _items(body, "idle")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DojoHistoryError(f"The dojo service answered a history this client cannot read ({exc}).") from exc


def parse_frame(line: bytes) -> Frame:
    """One line of a `history/frames` answer (`DojoHistoryError` if unreadable)."""
    try:
        body = orjson.loads(line)
        if not isinstance(body, dict):
            raise TypeError("a frame must be an object")
        files = tuple(
            FileRuns(
                str(file["path"]),
                tuple(Run(str(run["text"]), _optional_id(run.get("user_id"))) for run in _items(file, "runs")),
            )
            for file in _items(body, "files")
        )
        return Frame(int(body["t_ms"]), _optional_id(body.get("driver_id")), files)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DojoHistoryError(f"The dojo service answered a frame this client cannot read ({exc}).") from exc


class DojosClient:
    """An async client of the dojo service (one connection pool); an async context manager, or `aclose()`."""

    def __init__(
        self, base_url: str, *, timeout: float = TIMEOUT_SECONDS, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport)
        instrument_http_client(self._http)

    @classmethod
    def from_settings(cls, settings: MediaSettings) -> DojosClient:
        """The client of `POCDOJO_DOJO_SERVICE_URL`, or of `public_url` when unset (`pocdojo dev`)."""
        return cls(settings.dojo_service_base)

    async def __aenter__(self) -> DojosClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, auth: DojoAuth, url: str, what: str, ok: int = 200) -> dict[str, Any]:
        try:
            response = await self._http.request(method, url, headers=_headers(auth))
        except httpx.TransportError as exc:
            raise _unreachable(exc) from exc
        if response.status_code != ok:
            raise _refusal(response, what, granted=isinstance(auth, HistoryGrant))
        body = _problem(response)
        if not body:
            raise DojoHistoryError(f"The dojo service answered {what} this client cannot read.")
        return body

    async def _get(self, auth: DojoAuth, url: str, what: str) -> dict[str, Any]:
        return await self._call("GET", auth, url, what)

    async def history(self, auth: DojoAuth, dojo_id: str) -> ReplayHistory:
        """The dojo's timeline, as the token's (or the grant's) user may see it."""
        return parse_history(await self._get(auth, f"/v1/dojos/{dojo_id}/history", "the dojo's history"))

    async def grant(self, bearer: str, dojo_id: str) -> HistoryGrant:
        """A grant to read the dojo's history later, with the token's user's rights."""
        body = await self._call("POST", bearer, f"/v1/dojos/{dojo_id}/history/grants", "a history grant", ok=201)
        try:
            return HistoryGrant(
                id=str(body["id"]),
                dojo_id=str(body["dojo_id"]),
                secret=str(body["grant"]),
                expires_at=_time(body["expires_at"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DojoHistoryError("The dojo service answered a history grant this client cannot read.") from exc

    async def revoke(self, grant: HistoryGrant) -> None:
        """Revoke the grant (the video is done with it). A grant already gone (expired, revoked) is fine."""
        try:
            response = await self._http.delete(
                f"/v1/dojos/{grant.dojo_id}/history/grants/{grant.id}", headers=_headers(grant)
            )
        except httpx.TransportError as exc:
            raise _unreachable(exc) from exc
        if response.status_code not in (204, 401):
            raise _refusal(response, "to revoke the history grant", granted=True)

    async def title(self, bearer: str, dojo_id: str) -> str:
        """The dojo's title."""
        body = await self._get(bearer, f"/v1/dojos/{dojo_id}", "the dojo")
        return str(body.get("title") or "")

    async def frames(self, auth: DojoAuth, dojo_id: str, instants: Sequence[int]) -> AsyncIterator[bytes]:
        """The NDJSON lines (one per instant, in order) of every file's text at `instants` (ascending,
        distinct), streamed: asked `MAX_INSTANTS` at a time, each line yielded as it arrives."""
        for start in range(0, len(instants), MAX_INSTANTS):
            batch = list(instants[start : start + MAX_INSTANTS])
            received = 0
            try:
                async with self._http.stream(
                    "POST",
                    f"/v1/dojos/{dojo_id}/history/frames",
                    json={"t_ms": batch},
                    headers={**_headers(auth), "Accept": "application/x-ndjson"},
                ) as response:
                    if response.status_code != 200:
                        await response.aread()
                        raise _refusal(response, "the dojo's frames", granted=isinstance(auth, HistoryGrant))
                    async for line in response.aiter_lines():
                        if line.strip():
                            received += 1
                            yield line.encode()
            except httpx.TransportError as exc:
                raise _unreachable(exc) from exc
            if received != len(batch):
                raise DojoHistoryError(
                    f"The dojo service answered {received} frames for {len(batch)} instants; the video needs all."
                )


def _unreachable(exc: httpx.TransportError) -> DojoHistoryUnavailable:
    return DojoHistoryUnavailable(f"The dojo service cannot be reached now ({type(exc).__name__}); retrying later.")
