"""How many POCs each tenant has, roughly and recently: what the search uses to pick between two plans
for a multi-word relevance search (`poc_api.search.build`, `many_words_shortcut`).

The full aggregation reads every posting of the query's terms, so its cost grows with the catalogue; the
first-page shortcut (`TOP_OF_WORDS`) reads a bounded number of postings but pays more fixed work, and
falls back to the aggregation when it cannot prove its page. Measured on the benchmark catalogue (CPU per
multi-word search, serial): 6,429 POCs 0.99 ms with the shortcut vs 0.69 without; 24,058 POCs 1.06 vs
1.00; 53,794 POCs 1.36 vs 1.70. So the shortcut is taken from `SHORTCUT_FROM` POCs.

Counts come from `SELECT count(*)` in the tenant's context, capped at `SHORTCUT_FROM` (a larger catalogue
costs no more to classify), run in the background when a tenant's count
is missing or older than `max_age` seconds (at most `max_refreshing` at a time, one per tenant); until
the first count arrives the search uses the aggregation, which is right for most catalogues. A count may
be a few minutes old: it only chooses between two plans that return the same page.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from runtime.db import Database

log = logging.getLogger("pocdojo.poc.sizes")

SHORTCUT_FROM = 30_000
"""Catalogues of at least this many POCs take the multi-word first-page shortcut."""

_COUNT = "SELECT count(*) AS n FROM (SELECT 1 FROM poc.pocs c WHERE c.tenant_id = $1::uuid LIMIT $2::int) AS capped"
"""A tenant's POCs, counted up to `$2` (an index-only scan of the primary key: ~0.1 µs per POC)."""


class CatalogueSizes:
    """A bounded, self-refreshing memo of POC counts per tenant (module docstring)."""

    def __init__(
        self,
        db: Database,
        *,
        max_age: float = 300.0,
        max_tenants: int = 10_000,
        max_refreshing: int = 1,
        count_up_to: int = SHORTCUT_FROM,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.count_up_to = count_up_to
        self.max_age = max_age
        self.max_tenants = max_tenants
        self.max_refreshing = max_refreshing
        self._clock = clock
        self._sizes: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._refreshing: dict[str, asyncio.Task[None]] = {}

    def get(self, tenant_id: str) -> int | None:
        """The tenant's last known count, at most `count_up_to` (None: not counted yet); starts a refresh
        if it is due."""
        entry = self._sizes.get(tenant_id)
        if entry is None or self._clock() - entry[1] >= self.max_age:
            self._refresh(tenant_id)
        return entry[0] if entry is not None else None

    def large(self, tenant_id: str) -> bool:
        """Whether the tenant's catalogue is known to be large enough for the shortcut."""
        size = self.get(tenant_id)
        return size is not None and size >= SHORTCUT_FROM

    def _refresh(self, tenant_id: str) -> None:
        if tenant_id in self._refreshing or len(self._refreshing) >= self.max_refreshing:
            return
        task = asyncio.get_running_loop().create_task(self._count(tenant_id), name=f"poc-size-{tenant_id}")
        self._refreshing[tenant_id] = task
        task.add_done_callback(lambda done: self._done(tenant_id, done))

    async def _count(self, tenant_id: str) -> None:
        rows = await self.db.tenant_fetch(tenant_id, _COUNT, self.count_up_to)
        self._sizes[tenant_id] = (int(rows[0]["n"]), self._clock())
        self._sizes.move_to_end(tenant_id)
        while len(self._sizes) > self.max_tenants:
            self._sizes.popitem(last=False)

    def _done(self, tenant_id: str, task: asyncio.Task[None]) -> None:
        self._refreshing.pop(tenant_id, None)
        if not task.cancelled() and task.exception() is not None:
            # The search keeps the plan it had (the aggregation, or the last count's); the next search retries.
            log.warning("counting a tenant's POCs failed", exc_info=task.exception(), extra={"tenant_id": tenant_id})

    async def aclose(self) -> None:
        """Stop the refreshes in flight (ordered shutdown: before the database pool closes)."""
        tasks = list(self._refreshing.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
