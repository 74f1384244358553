"""Startup steps shared by services: each enters a resource into the lifespan's exit stack."""

from __future__ import annotations

from contextlib import AsyncExitStack

from runtime.db import Database
from runtime.root import ServiceRoot


async def database_startup(root: ServiceRoot, stack: AsyncExitStack) -> None:
    """Open the asyncpg pool as the root's `db` (closed at shutdown) and report it in /readyz."""
    settings = root.settings
    db = Database(
        settings.require_database_url(),
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        command_timeout=settings.db_command_timeout,
    )
    await stack.enter_async_context(db)
    root.set_db(db)
    root.readiness.append(("postgres", db.ping))
