"""Startup steps shared by services: each enters a resource into the lifespan's exit stack."""

from __future__ import annotations

from contextlib import AsyncExitStack

from fastapi import FastAPI

from runtime.db import Database
from runtime.settings import SharedSettings


async def database_startup(app: FastAPI, stack: AsyncExitStack) -> None:
    """Open the asyncpg pool as `app.state.db` (closed at shutdown) and report it in /readyz."""
    settings: SharedSettings = app.state.settings
    db = Database(
        settings.require_database_url(),
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        command_timeout=settings.db_command_timeout,
    )
    await stack.enter_async_context(db)
    app.state.db = db
    app.state.readiness.append(("postgres", db.ping))
