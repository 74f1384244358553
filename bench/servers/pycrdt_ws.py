"""Run pycrdt-websocket 0.16.5 the way its documentation shows: ``WebsocketServer`` behind its
``ASGIServer`` adapter, served by uvicorn with its defaults.

Run it with the anchors virtualenv's python (``bench/anchors/venv/bin/python``), which
``collab_load.py`` creates on first use. It binds 127.0.0.1 only and prints ``READY <ws-base-url>``
once the socket is listening. Rooms are URL paths (``ws://127.0.0.1:P/<room>``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import uvicorn
from pycrdt.websocket import ASGIServer, WebsocketServer


async def serve(port: int, ws_impl: str) -> None:
    websocket_server = WebsocketServer()
    app = ASGIServer(websocket_server)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, ws=ws_impl, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    async with websocket_server:
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()  # raises the startup error, if any
                raise RuntimeError("uvicorn stopped before it started listening")
            await asyncio.sleep(0.02)
        print(f"READY ws://127.0.0.1:{port}", flush=True)
        await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ws", default="auto", help="uvicorn WebSocket implementation (default: uvicorn's)")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.port, args.ws))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
