"""`GET /v1/signal/{room}`: the WebRTC signaling websocket of the dojo service (being built: #6).

Wiring contract with `dojo.app`: `signaling_startup(settings)` is a lifespan step that puts the
node's `signal_hub` on `app.state`; `install_signal_routes(app)` adds the routes.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from fastapi import FastAPI

from runtime.http import Startup
from runtime.settings import Settings


def signaling_startup(settings: Settings) -> Startup:
    async def start(app: FastAPI, stack: AsyncExitStack) -> None:
        return None

    return start


def install_signal_routes(app: FastAPI) -> None:
    return None
