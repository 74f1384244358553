"""Runner for our collab server in the benchmark.

Contract with ``bench/collab_load.py`` (see ``bench/README.md``, "Plugging in a server"):

* Started as ``.venv/bin/python bench/servers/ours.py --port P`` in its own process group; it binds
  127.0.0.1:P only and is stopped with SIGTERM.
* Prints ``PARAMS {"secret": ..., "tenant": ...}`` then ``READY ws://127.0.0.1:P/v1/collab``.
* ``query_params(room, index, info)`` (imported by the harness) mints a ticket per connection.

What runs is the production dojo service (`dojo.app.create_app`) under uvicorn with the collab fast
path (`CollabWebSocketProtocol`), uvloop, persistence to a real PostgreSQL (the embedded one, in a
throwaway directory) with the default debounce. The only setting changed from the defaults is the
per-connection message rate limit, lifted so that the harness measures throughput (the Node
reference server has no such limit).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def query_params(room: str, index: int, info: dict[str, object]) -> dict[str, str]:
    from dojo.tickets import TicketSigner

    signer = TicketSigner(str(info["secret"]).encode(), ttl_seconds=3600)
    ticket = signer.issue(tenant_id=str(info["tenant"]), user_id=f"bench-{index}", room=room, purpose="collab")
    return {"ticket": ticket}


def main() -> None:
    parser = argparse.ArgumentParser(description="our collab server, for bench/collab_load.py")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, default=None, help="keep the database here (default: temporary)")
    args = parser.parse_args()

    import uvicorn

    from deploy.cli import exit_on_sigterm
    from deploy.local import EmbeddedEnvironment
    from deploy.services import COLLAB_PROTOCOL
    from dojo.app import create_app
    from runtime.logs import configure_logging
    from runtime.settings import Settings

    state = args.state_dir or Path(tempfile.mkdtemp(prefix="pocdojo-bench-"))
    env = EmbeddedEnvironment(state)
    urls = asyncio.run(env.prepare())
    secret = secrets.token_urlsafe(48)
    settings = Settings(
        env="dev",
        database_url=urls.service,
        public_url=f"http://127.0.0.1:{args.port}",
        ticket_secret=secret,
        state_dir=state,
        log_level="WARNING",
        db_pool_max=10,
        collab_messages_per_second=1_000_000.0,
        collab_message_burst=1_000_000,
    )
    configure_logging(settings.log_level, json=True)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=args.port,
        ws=COLLAB_PROTOCOL,
        ws_per_message_deflate=False,
        ws_max_size=settings.collab_max_frame_bytes,
        lifespan="on",
        log_config=None,
        access_log=False,
        backlog=4096,
    )
    server = uvicorn.Server(config)
    print("PARAMS " + json.dumps({"secret": secret, "tenant": str(uuid.uuid4())}), flush=True)

    async def serve() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn exposes a flag only
            await asyncio.sleep(0.01)
        if server.started:
            print(f"READY ws://127.0.0.1:{args.port}/v1/collab", flush=True)
        await task

    exit_on_sigterm()
    try:
        try:
            import uvloop  # uvicorn's default loop when installed; asyncio.run would not pick it
        except ImportError:
            asyncio.run(serve())
        else:
            uvloop.run(serve())
    finally:
        env.postgres.stop(mode="fast")
        if args.state_dir is None:
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
