"""Dojo sessions in PostgreSQL (`dojo` schema): every change in one tenant transaction.

Each state-changing call locks the session row (`FOR UPDATE`), checks who may do it against the
locked state, writes, bumps `version` and returns the new `Dojo`, which the caller publishes to
every node (`dojo.events`). Permission errors are `ServiceError`s with the API's problem types.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from dojo.model import Dojo, Membership, Participant, Randori, Role, Status, next_driver
from dojo.replay.store import record_driver_change
from dojo.room_names import RoomNameError, parse_dojo_id
from runtime.db import Connection, Database
from runtime.errors import Conflict, Forbidden, NotFound

_SELECT_SESSION = """
    SELECT id::text, title, poc_id::text, language, host_id::text, status, locked, lobby, randori_seconds,
           randori_next_at, randori_round, version, started_at, ended_at, snapshot
    FROM dojo.sessions WHERE id = $1"""
_SELECT_SESSION_FOR_UPDATE = _SELECT_SESSION + " FOR UPDATE"
_LIST_SESSIONS = """
    SELECT id::text, title, poc_id::text, language, host_id::text, status, locked, lobby, randori_seconds,
           randori_next_at, randori_round, version, started_at, ended_at, snapshot
    FROM dojo.sessions
    WHERE ($1::text IS NULL OR status = $1) AND ($2::timestamptz IS NULL OR (started_at, id) < ($2, $3))
    ORDER BY started_at DESC, id DESC LIMIT $4"""


class Gone(Conflict):
    """The dojo has ended: nothing changes in it any more."""

    slug = "dojo-ended"
    title = "The dojo has ended"


class InLobby(Forbidden):
    """The user asked to join and waits for the host to admit them."""

    slug = "dojo-lobby"
    title = "Waiting in the lobby"


def parse_id(value: str, what: str = "dojo") -> uuid.UUID:
    """The id `value` spells canonically (lower case, hyphens); 404 for anything else, saying why
    for another spelling of a UUID (see `dojo.room_names`: one spelling per dojo)."""
    try:
        parsed = parse_dojo_id(value)
    except RoomNameError as exc:
        raise NotFound(f"No {what} {value!r} here: {exc}.") from exc
    if parsed is None:
        raise NotFound(f"No {what} {value!r} here.")
    return parsed


def _dojo(tenant_id: str, row: asyncpg.Record, participants: list[asyncpg.Record]) -> Dojo:
    randori = None
    if row["randori_seconds"] is not None:
        randori = Randori(row["randori_seconds"], row["randori_next_at"], row["randori_round"])
    return Dojo(
        tenant_id=tenant_id,
        id=row["id"],
        title=row["title"],
        poc_id=row["poc_id"],
        language=row["language"],
        host_id=row["host_id"],
        status=Status(row["status"]),
        locked=row["locked"],
        lobby=row["lobby"],
        randori=randori,
        version=row["version"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        participants=tuple(
            Participant(p["user_id"], Role(p["role"]), Membership(p["status"]), p["seq"], p["joined_at"])
            for p in participants
        ),
        snapshot=row["snapshot"],
    )


async def load_dojo(conn: Connection, tenant_id: str, dojo_id: uuid.UUID, *, lock: bool) -> Dojo:
    row = await conn.fetchrow(_SELECT_SESSION_FOR_UPDATE if lock else _SELECT_SESSION, dojo_id)
    if row is None:
        raise NotFound(f"No dojo {dojo_id} in your organization.")
    participants = await conn.fetch(
        "SELECT user_id::text, role, status, seq, joined_at FROM dojo.participants WHERE dojo_id = $1 ORDER BY seq",
        dojo_id,
    )
    return _dojo(tenant_id, row, participants)


async def _bump(conn: Connection, tenant_id: str, dojo_id: uuid.UUID, before: Dojo | None = None) -> Dojo:
    """Bump the version; with `before`, note a randori driver change in the history (same transaction)."""
    await conn.execute("UPDATE dojo.sessions SET version = version + 1 WHERE id = $1", dojo_id)
    after = await load_dojo(conn, tenant_id, dojo_id, lock=False)
    if before is not None and _randori_driver(before) != _randori_driver(after):
        await _note_driver(conn, after)
    return after


def _randori_driver(dojo: Dojo) -> str | None:
    return dojo.driver if dojo.randori is not None and dojo.active else None


async def _note_driver(conn: Connection, dojo: Dojo) -> None:
    driver = _randori_driver(dojo)
    following = next_driver(dojo) if driver is not None else None
    await record_driver_change(
        conn, dojo.tenant_id, uuid.UUID(dojo.id), driver, following if following != driver else None
    )


def _require_host(dojo: Dojo, user_id: str) -> None:
    if dojo.host_id != user_id:
        raise Forbidden("Only the dojo's host may do this.")


def _require_active(dojo: Dojo) -> None:
    if not dojo.active:
        raise Gone("The dojo has ended.")


class DojoSessions:
    def __init__(self, db: Database, *, max_participants: int) -> None:
        self._db = db
        self._max_participants = max_participants

    async def create(
        self,
        tenant_id: str,
        host_id: str,
        *,
        title: str,
        poc_id: str | None,
        language: str | None,
        locked: bool,
        lobby: bool,
        randori_seconds: int | None,
    ) -> Dojo:
        async with self._db.tenant_tx(tenant_id) as conn:
            dojo_id = await conn.fetchval(
                """INSERT INTO dojo.sessions (tenant_id, title, poc_id, language, host_id, locked, lobby,
                                              randori_seconds, randori_next_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
                           CASE WHEN $8::int IS NULL THEN NULL ELSE now() + make_interval(secs => $8::int) END)
                   RETURNING id""",
                uuid.UUID(tenant_id),
                title,
                uuid.UUID(poc_id) if poc_id else None,
                language,
                uuid.UUID(host_id),
                locked,
                lobby,
                randori_seconds,
            )
            await conn.execute(
                """INSERT INTO dojo.participants (tenant_id, dojo_id, user_id, role, status)
                   VALUES ($1, $2, $3, 'driver', 'admitted')""",
                uuid.UUID(tenant_id),
                dojo_id,
                uuid.UUID(host_id),
            )
            created = await load_dojo(conn, tenant_id, dojo_id, lock=False)
            if _randori_driver(created) is not None:
                await _note_driver(conn, created)
            return created

    async def get(self, tenant_id: str, dojo_id: str) -> Dojo:
        # One snapshot for the session row and its participants (`load_dojo` reads them in two statements):
        # under READ COMMITTED a rotation committing in between showed the new driver with the old round.
        async with self._db.tenant_tx(tenant_id, isolation="repeatable_read") as conn:
            return await load_dojo(conn, tenant_id, parse_id(dojo_id), lock=False)

    async def find(self, tenant_id: str, dojo_id: str) -> Dojo | None:
        """The dojo, or None when `dojo_id` names no dojo of this tenant (a plain room).
        `RoomNameError` for a non-canonical spelling of a UUID: never a plain room by that name."""
        parsed = parse_dojo_id(dojo_id)
        if parsed is None:
            return None
        async with self._db.tenant_tx(tenant_id, isolation="repeatable_read") as conn:  # one snapshot, as `get`
            try:
                return await load_dojo(conn, tenant_id, parsed, lock=False)
            except NotFound:
                return None

    async def list(
        self, tenant_id: str, *, status: Status | None, limit: int, before: tuple[datetime, uuid.UUID] | None
    ) -> list[Dojo]:
        async with self._db.tenant_tx(tenant_id) as conn:
            rows = await conn.fetch(
                _LIST_SESSIONS,
                status.value if status else None,
                before[0] if before else None,
                before[1] if before else None,
                limit,
            )
            return [_dojo(tenant_id, row, []) for row in rows]

    async def join(self, tenant_id: str, dojo_id: str, user_id: str) -> Dojo:
        """Make the user a participant (navigator), or put them in the lobby; returns the new state.

        Raises `Forbidden` (kicked, locked), `InLobby` (waiting for the host), `Gone` (ended)."""
        parsed = parse_id(dojo_id)
        async with self._db.tenant_tx(tenant_id) as conn:
            dojo = await load_dojo(conn, tenant_id, parsed, lock=True)
            _require_active(dojo)
            me = dojo.participant(user_id)
            if me is not None:
                if me.status is Membership.KICKED:
                    raise Forbidden("The host removed you from this dojo.")
                if me.status is Membership.WAITING:
                    raise InLobby("You are in the lobby: the host has not admitted you yet.")
                return dojo
            if dojo.locked:
                raise Forbidden("The dojo is locked: the host is not accepting new participants.")
            if len(dojo.admitted) >= self._max_participants:
                raise Conflict(f"The dojo is full ({self._max_participants} participants).")
            status = Membership.WAITING if dojo.lobby else Membership.ADMITTED
            await conn.execute(
                """INSERT INTO dojo.participants (tenant_id, dojo_id, user_id, role, status)
                   VALUES ($1, $2, $3, 'navigator', $4)""",
                uuid.UUID(tenant_id),
                parsed,
                uuid.UUID(user_id),
                status.value,
            )
            joined = await _bump(conn, tenant_id, parsed)
        if status is Membership.WAITING:
            raise InLobby("You are in the lobby: the host has not admitted you yet.", dojo=joined.to_json())
        return joined

    async def moderate(
        self, tenant_id: str, dojo_id: str, actor: str, target: str, *, role: Role | None = None, action: str
    ) -> Dojo:
        """Host actions on one participant: `role` (promote/demote), `admit`, `kick`."""
        parsed = parse_id(dojo_id)
        async with self._db.tenant_tx(tenant_id) as conn:
            dojo = await load_dojo(conn, tenant_id, parsed, lock=True)
            _require_active(dojo)
            _require_host(dojo, actor)
            who = dojo.participant(target)
            if who is None or who.status is Membership.KICKED:
                raise NotFound(f"User {target} is not a participant of this dojo.")
            target_id = uuid.UUID(target)
            if action == "kick":
                if target == dojo.host_id:
                    raise Conflict("The host cannot kick themselves; end the dojo instead.")
                await conn.execute(
                    "UPDATE dojo.participants SET status = 'kicked' WHERE dojo_id = $1 AND user_id = $2",
                    parsed,
                    target_id,
                )
            elif action == "admit":
                if who.status is not Membership.WAITING:
                    raise Conflict(f"User {target} is not waiting in the lobby.")
                await conn.execute(
                    "UPDATE dojo.participants SET status = 'admitted' WHERE dojo_id = $1 AND user_id = $2",
                    parsed,
                    target_id,
                )
            elif action == "role" and role is not None:
                if who.status is not Membership.ADMITTED:
                    raise Conflict(f"User {target} has not been admitted yet.")
                if role is Role.DRIVER and dojo.randori is not None:
                    # Randori has one driver: the current one steps back to navigator.
                    await conn.execute(
                        """UPDATE dojo.participants SET role = 'navigator'
                           WHERE dojo_id = $1 AND role = 'driver' AND user_id <> $2""",
                        parsed,
                        target_id,
                    )
                await conn.execute(
                    "UPDATE dojo.participants SET role = $3 WHERE dojo_id = $1 AND user_id = $2",
                    parsed,
                    target_id,
                    role.value,
                )
            else:
                raise ValueError(f"unknown moderation action {action!r}")
            return await _bump(conn, tenant_id, parsed, dojo)

    async def configure(
        self,
        tenant_id: str,
        dojo_id: str,
        actor: str,
        changes: Mapping[str, Any],
    ) -> Dojo:
        """Host settings: `locked`, `lobby`, `randori_seconds` (None turns randori off).

        Turning randori on keeps exactly one driver (the current first driver, or the first
        admitted non-observer) and starts the timer now."""
        parsed = parse_id(dojo_id)
        async with self._db.tenant_tx(tenant_id) as conn:
            dojo = await load_dojo(conn, tenant_id, parsed, lock=True)
            _require_active(dojo)
            _require_host(dojo, actor)
            if "locked" in changes:
                await conn.execute("UPDATE dojo.sessions SET locked = $2 WHERE id = $1", parsed, changes["locked"])
            if "lobby" in changes:
                await conn.execute("UPDATE dojo.sessions SET lobby = $2 WHERE id = $1", parsed, changes["lobby"])
            if "randori_seconds" in changes:
                seconds = changes["randori_seconds"]
                if seconds is None:
                    await conn.execute(
                        "UPDATE dojo.sessions SET randori_seconds = NULL, randori_next_at = NULL WHERE id = $1",
                        parsed,
                    )
                else:
                    driver = dojo.driver or next_driver(dojo)
                    if driver is None:
                        raise Conflict("Randori needs at least one participant who is not an observer.")
                    await conn.execute(
                        """UPDATE dojo.participants SET role = CASE WHEN user_id = $2 THEN 'driver' ELSE 'navigator' END
                           WHERE dojo_id = $1 AND role <> 'observer' AND status = 'admitted'""",
                        parsed,
                        uuid.UUID(driver),
                    )
                    await conn.execute(
                        """UPDATE dojo.sessions SET randori_seconds = $2,
                               randori_next_at = now() + make_interval(secs => $2::int)
                           WHERE id = $1""",
                        parsed,
                        seconds,
                    )
            return await _bump(conn, tenant_id, parsed, dojo)

    async def rotate(self, tenant_id: str, dojo_id: str, due: datetime) -> Dojo | None:
        """Pass the driver role on if the timer that fired (`due`) is still the current one.

        Every node that follows the dojo fires the same timer; the conditional update lets exactly
        one of them rotate. Returns the new state, or None when another node (or a host change) won."""
        parsed = parse_id(dojo_id)
        async with self._db.tenant_tx(tenant_id) as conn:
            dojo = await load_dojo(conn, tenant_id, parsed, lock=True)
            if not dojo.active or dojo.randori is None or dojo.randori.next_at != due:
                return None
            driver = next_driver(dojo)
            if driver is not None:
                await conn.execute(
                    """UPDATE dojo.participants SET role = CASE WHEN user_id = $2 THEN 'driver' ELSE 'navigator' END
                       WHERE dojo_id = $1 AND role <> 'observer' AND status = 'admitted'""",
                    parsed,
                    uuid.UUID(driver),
                )
            # The next deadline follows the schedule, unless the dojo sat idle past several turns.
            await conn.execute(
                """UPDATE dojo.sessions
                   SET randori_round = randori_round + 1,
                       randori_next_at = greatest(randori_next_at + make_interval(secs => randori_seconds),
                                                  now() + make_interval(secs => randori_seconds) / 2)
                   WHERE id = $1""",
                parsed,
            )
            return await _bump(conn, tenant_id, parsed, dojo)

    async def end(self, tenant_id: str, dojo_id: str, actor: str, *, tenant_admin: bool = False) -> Dojo:
        """End the dojo: its host, or a tenant administrator (`tenant_admin`: the caller's current role,
        e.g. when the host has left the company or cannot be reached)."""
        parsed = parse_id(dojo_id)
        async with self._db.tenant_tx(tenant_id) as conn:
            dojo = await load_dojo(conn, tenant_id, parsed, lock=True)
            if not tenant_admin:
                _require_host(dojo, actor)
            _require_active(dojo)
            await conn.execute(
                """UPDATE dojo.sessions SET status = 'ended', ended_at = now(),
                          randori_seconds = NULL, randori_next_at = NULL WHERE id = $1""",
                parsed,
            )
            return await _bump(conn, tenant_id, parsed, dojo)

    async def hand_over(self, tenant_id: str, dojo_id: str, actor: str, target: str, *, tenant_admin: bool) -> Dojo:
        """Make `target` the host. The host may hand over to an admitted participant; a tenant
        administrator may do the same (the host is gone: deleted, away, unreachable) or take the host
        role themselves, joining as an admitted participant if needed. The old host stays a participant.

        Raises `Forbidden` (neither host nor administrator), `NotFound` (target not in the dojo),
        `Conflict` (target waiting in the lobby, kicked, or already the host), `Gone` (ended)."""
        parsed = parse_id(dojo_id)
        async with self._db.tenant_tx(tenant_id) as conn:
            dojo = await load_dojo(conn, tenant_id, parsed, lock=True)
            _require_active(dojo)
            if not tenant_admin:
                _require_host(dojo, actor)
            if target == dojo.host_id:
                raise Conflict(f"User {target} already hosts this dojo.")
            who = dojo.participant(target)
            target_id = uuid.UUID(target)
            if tenant_admin and target == actor and (who is None or who.status is not Membership.ADMITTED):
                await conn.execute(
                    """INSERT INTO dojo.participants (tenant_id, dojo_id, user_id, role, status)
                       VALUES ($1, $2, $3, 'navigator', 'admitted')
                       ON CONFLICT (tenant_id, dojo_id, user_id) DO UPDATE SET status = 'admitted'""",
                    uuid.UUID(tenant_id),
                    parsed,
                    target_id,
                )
            elif who is None:
                raise NotFound(f"User {target} is not a participant of this dojo.")
            elif who.status is not Membership.ADMITTED:
                raise Conflict(f"User {target} is {who.status.value}, not an admitted participant.")
            await conn.execute("UPDATE dojo.sessions SET host_id = $2 WHERE id = $1", parsed, target_id)
            return await _bump(conn, tenant_id, parsed)

    async def save_snapshot(self, tenant_id: str, dojo_id: str, files: Mapping[str, str]) -> Dojo:
        parsed = parse_id(dojo_id)
        async with self._db.tenant_tx(tenant_id) as conn:
            await conn.execute("UPDATE dojo.sessions SET snapshot = $2 WHERE id = $1", parsed, {"files": dict(files)})
            return await load_dojo(conn, tenant_id, parsed, lock=False)
