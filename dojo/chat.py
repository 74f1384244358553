"""Dojo chat: messages stored in PostgreSQL, paged newest first, rate-limited per user and dojo.

The rate limit counts the author's messages of the last minute in the same transaction as the
insert, so it holds across every node without shared counters; a transaction-level advisory lock
per (dojo, author) serializes one author's concurrent sends so none slips past the count.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Any

from dojo.model import Membership
from dojo.sessions import Gone, load_dojo, parse_id
from runtime.db import Database
from runtime.errors import Forbidden, TooManyRequests

WINDOW_SECONDS = 60


def message_json(dojo_id: str, row: Any) -> dict[str, Any]:
    sent_at: datetime = row["sent_at"]
    return {
        "id": str(row["id"]),
        "dojo_id": dojo_id,
        "user_id": str(row["user_id"]),
        "text": row["body"],
        "sent_at": sent_at.isoformat(),
    }


class DojoChat:
    def __init__(self, db: Database, *, max_chars: int, per_minute: int) -> None:
        self._db = db
        self.max_chars = max_chars
        self.per_minute = per_minute

    async def post(self, tenant_id: str, dojo_id: str, user_id: str, text: str) -> dict[str, Any]:
        parsed = parse_id(dojo_id)
        async with self._db.tenant_tx(tenant_id) as conn:
            dojo = await load_dojo(conn, tenant_id, parsed, lock=False)
            if not dojo.active:
                raise Gone("The dojo has ended: its chat is read-only.")
            me = dojo.participant(user_id)
            if me is None or me.status is not Membership.ADMITTED:
                raise Forbidden("Only admitted participants may chat in this dojo.")
            # One author's sends are serialized, so the count below cannot be raced past the limit.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"chat:{dojo_id}:{user_id}")
            recent = await conn.fetchrow(
                """SELECT count(*) AS n, min(sent_at) AS oldest,
                          extract(epoch FROM clock_timestamp() - min(sent_at)) AS age
                   FROM dojo.chat_messages
                   WHERE dojo_id = $1 AND user_id = $2
                     AND sent_at > clock_timestamp() - make_interval(secs => $3)""",
                parsed,
                uuid.UUID(user_id),
                WINDOW_SECONDS,
            )
            assert recent is not None
            if recent["n"] >= self.per_minute:
                wait = math.ceil(WINDOW_SECONDS - float(recent["age"]))
                raise TooManyRequests(
                    f"Chat limit: {self.per_minute} messages per minute in a dojo; retry in {max(1, wait)} s.",
                    retry_after=wait,
                )
            row = await conn.fetchrow(
                """INSERT INTO dojo.chat_messages (tenant_id, dojo_id, user_id, body)
                   VALUES ($1, $2, $3, $4) RETURNING id, user_id, body, sent_at""",
                uuid.UUID(tenant_id),
                parsed,
                uuid.UUID(user_id),
                text,
            )
            return message_json(dojo.id, row)

    async def history(
        self, tenant_id: str, dojo_id: str, user_id: str, *, limit: int, before: int | None, after: int | None
    ) -> list[dict[str, Any]]:
        """Messages newest first (`before`: older than that id), or oldest first after `after`."""
        parsed = parse_id(dojo_id)
        async with self._db.tenant_tx(tenant_id) as conn:
            dojo = await load_dojo(conn, tenant_id, parsed, lock=False)
            me = dojo.participant(user_id)
            if me is None or me.status is not Membership.ADMITTED:
                raise Forbidden("Only participants may read this dojo's chat.")
            if after is not None:
                rows = await conn.fetch(
                    """SELECT id, user_id, body, sent_at FROM dojo.chat_messages
                       WHERE dojo_id = $1 AND id > $2 ORDER BY id LIMIT $3""",
                    parsed,
                    after,
                    limit,
                )
            else:
                rows = await conn.fetch(
                    """SELECT id, user_id, body, sent_at FROM dojo.chat_messages
                       WHERE dojo_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3""",
                    parsed,
                    before,
                    limit,
                )
            return [message_json(dojo.id, row) for row in rows]
