"""The history store on a real PostgreSQL: checkpoints never make a rebuild skip an update."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from pycrdt import Doc, Map, Text

from deploy.local import DatabaseUrls
from dojo.replay.store import HistoryRow, HistoryStore
from dojo.sessions import DojoSessions
from runtime.db import Database


def _updates(doc: Doc[Any], edit: Any) -> bytes:
    before = doc.get_state()
    edit(doc.get("files", type=Map))
    return doc.get_update(before)


async def test_a_late_update_older_than_a_checkpoint_drops_it(database: DatabaseUrls) -> None:
    tenant, host = uuid.uuid4(), str(uuid.uuid4())
    async with Database(database.service, max_size=2) as db:
        dojo = await DojoSessions(db, max_participants=5).create(
            str(tenant), host, title="t", poc_id=None, language=None, locked=False, lobby=False, randori_seconds=None
        )
        ident, t0 = uuid.UUID(dojo.id), dojo.started_at
        store = HistoryStore(db)
        a: Doc[Any] = Doc(client_id=1)
        first = _updates(a, lambda files: files.__setitem__("a.txt", Text("1")))
        second = _updates(a, lambda files: files["a.txt"].insert(1, "2"))
        # Node A writes its two updates and checkpoints them.
        await store.append(
            tenant,
            [
                HistoryRow(ident, t0 + timedelta(seconds=1), None, first),
                HistoryRow(ident, t0 + timedelta(seconds=2), None, second),
            ],
        )
        assert await store.build_checkpoint(tenant, ident, t0 + timedelta(seconds=2)) is not None
        assert len(await store.checkpoints(tenant, ident)) == 1
        # Node B's writer was held up: an update it accepted at 1.5 s arrives now.
        late = _updates(Doc(client_id=2), lambda files: files.__setitem__("b.txt", Text("late")))
        await store.append(tenant, [HistoryRow(ident, t0 + timedelta(seconds=1.5), uuid.UUID(host), late)])
        assert await store.checkpoints(tenant, ident) == []
        replayer, _ = await store.replayer_at(tenant, ident, t0 + timedelta(seconds=2), blame=True)
        assert replayer.texts() == {"a.txt": "12", "b.txt": "late"}
        # Rebuilt, the checkpoint holds it; a rebuild from it at 2 s and later is the same.
        assert await store.build_checkpoint(tenant, ident, t0 + timedelta(seconds=2)) is not None
        replayer, _ = await store.replayer_at(tenant, ident, t0 + timedelta(seconds=3), blame=True)
        assert replayer.texts() == {"a.txt": "12", "b.txt": "late"}
        assert [r.user_id for r in replayer.runs()["b.txt"]] == [host]
        early, _ = await store.replayer_at(tenant, ident, t0 + timedelta(seconds=1.2), blame=False)
        assert early.texts() == {"a.txt": "1"}
