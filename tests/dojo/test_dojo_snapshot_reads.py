"""A dojo is read in one snapshot: its session row (randori round) and its participants (who drives)
never come from two different commits."""

from __future__ import annotations

import asyncio
import uuid

from deploy.local import DatabaseUrls
from dojo.sessions import DojoSessions
from runtime.db import Database

ROTATIONS = 150


async def test_reads_racing_randori_rotations_see_driver_and_round_of_one_commit(database: DatabaseUrls) -> None:
    tenant, host, guest = (str(uuid.uuid4()) for _ in range(3))
    async with Database(database.service, min_size=2, max_size=4) as db:
        sessions = DojoSessions(db, max_participants=10)
        dojo = await sessions.create(
            tenant, host, title="race", poc_id=None, language=None, locked=False, lobby=False, randori_seconds=60
        )
        await sessions.join(tenant, dojo.id, guest)
        rotating = True

        async def rotate() -> None:
            nonlocal rotating
            try:
                for _ in range(ROTATIONS):
                    current = await sessions.get(tenant, dojo.id)
                    assert current.randori is not None
                    assert await sessions.rotate(tenant, dojo.id, current.randori.next_at) is not None
            finally:
                rotating = False

        seen: list[tuple[str | None, int]] = []

        async def read(find: bool) -> None:
            while rotating:
                state = await (sessions.find(tenant, dojo.id) if find else sessions.get(tenant, dojo.id))
                assert state is not None and state.randori is not None
                seen.append((state.driver, state.randori.round))

        await asyncio.gather(rotate(), read(False), read(True))
    # Two people take turns: the host drives in even rounds, the guest in odd ones.
    inconsistent = [(driver, n) for driver, n in seen if driver != (host if n % 2 == 0 else guest)]
    assert len(seen) >= ROTATIONS
    assert inconsistent == []
