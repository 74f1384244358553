"""`pocdojo`: the command line.

    pocdojo dev [--host H] [--port P] [--state-dir D]     every service in one process, embedded defaults
    pocdojo serve SERVICE [--host H] [--port P]          one service as production runs it (env settings;
                                                         metrics on POCDOJO_METRICS_PORT when set)
    pocdojo worker media [--concurrency N]               the media jobs' worker (reports), as production runs it
    pocdojo migrate up|down|status [--service S] [--steps N]
    pocdojo tenants create|list ...                      tenants (deploy.operator_cli)
    pocdojo users list|create|reset-password|set-role    a tenant's users, for the operator
    pocdojo db bootstrap [--database D]                  the roles and the database, once, as an administrator

Settings are read once from the environment here and passed down. `migrate` uses
POCDOJO_MIGRATION_DATABASE_URL / DATABASE_URL, `tenants` and `users` DATABASE_URL, when set, else the embedded
server of `--state-dir`. `dev` refuses a busy port before it starts anything (`deploy.ports`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import asyncpg
import uvicorn

from deploy import operator_cli
from deploy.cli_parser import Parser
from deploy.ports import PortBusy, check_ports
from deploy.services import COLLAB_PROTOCOL, SERVICES, schemas
from runtime import migrations
from runtime.bootstrap import BootstrapError
from runtime.gc_policy import apply_gc_policy
from runtime.logs import configure_logging
from runtime.metrics_access import internal_metrics_listener
from runtime.settings import DojoSettings, MediaSettings, Settings
from runtime.tracing import configure_tracing

DEMO_TENANT = "demo"
DEMO_EMAIL = "demo@pocdojo.dev"


def _state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(".pocdojo"),
        help="where the embedded PostgreSQL, keys and secrets live (used when DATABASE_URL is not set)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="pocdojo", description="POC Dojo services and tools.")
    sub = parser.add_subparsers(dest="command", required=True, help="what to do (each has its own --help)")

    dev = sub.add_parser("dev", help="run every service in one process on embedded defaults")
    dev.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    dev.add_argument("--port", type=int, default=8000, help="the port to listen on (the first node's with --nodes)")
    _state_dir(dev)
    dev.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="run N node processes on consecutive ports sharing one Redis (REDIS_URL or an embedded one)",
    )

    serve = sub.add_parser("serve", help="run one service as production does (settings from the environment)")
    serve.add_argument("service", choices=sorted(SERVICES), help="the service to run")
    serve.add_argument(
        "--host", default=os.environ.get("POCDOJO_HOST", "0.0.0.0"), help="the address to listen on ($POCDOJO_HOST)"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("POCDOJO_PORT", "8000")),
        help="the port to listen on ($POCDOJO_PORT)",
    )

    worker = sub.add_parser("worker", help="run a service's job worker as production does (media: reports)")
    worker.add_argument("service", choices=["media"], help="the service whose jobs to run")
    worker.add_argument(
        "--concurrency", type=int, help="jobs at once (None: $POCDOJO_MEDIA_WORKER_CONCURRENCY or its default)"
    )

    migrate = sub.add_parser("migrate", help="apply, roll back or list schema migrations")
    migrate.add_argument("action", choices=["up", "down", "status"], help="apply, roll back or list")
    migrate.add_argument(
        "--service", choices=sorted(s.schema for s in schemas()), help="one service's schema (None: every one)"
    )
    migrate.add_argument("--steps", type=int, default=1, help="how many migrations `down` rolls back")
    _state_dir(migrate)

    db = sub.add_parser("db", help="database administration")
    dsub = db.add_subparsers(dest="db_command", required=True, help="the administration task")
    bootstrap = dsub.add_parser(
        "bootstrap",
        help="create or update the owner and service roles and create the database (idempotent)",
        description="Reads POCDOJO_BOOTSTRAP_ADMIN_URL (an administrator: a superuser, or a role with CREATEROLE "
        "and CREATEDB such as Aurora's master user), POCDOJO_OWNER_PASSWORD and POCDOJO_SERVICE_PASSWORD.",
    )
    bootstrap.add_argument("--database", default="pocdojo", help="the database to create")

    operator_cli.add_commands(sub, _state_dir)
    return parser


def _uvicorn_config(app: Any, host: str, port: int, ws_max_size: int, ws: str = COLLAB_PROTOCOL) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ws=ws,
        ws_per_message_deflate=False,
        ws_max_size=ws_max_size,
        lifespan="on",
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


def exit_on_sigterm() -> None:
    """Make SIGTERM raise SystemExit. uvicorn handles SIGTERM while it serves, and re-raises it with
    the previous handler once it has shut down: with this one, `finally` blocks (stopping the embedded
    database) still run, instead of the process dying on the default action."""
    import signal

    def _exit(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


# -- dev ------------------------------------------------------------------------------------------
async def _ensure_demo(settings: Settings, state_dir: Path) -> dict[str, str]:
    """On first start create the demo tenant and user (the password is kept in the state dir), and leave its
    sample data pending (`deploy.demo_samples`: created once the services run)."""
    from deploy.demo_samples import mark_pending
    from deploy.local import write_private
    from identity.app import build_service, load_keys
    from runtime.db import Database

    login_file = state_dir / "demo-login.json"
    if login_file.exists():
        data: dict[str, str] = json.loads(login_file.read_text(encoding="utf-8"))
        return data
    import secrets

    password = "demo-" + secrets.token_urlsafe(12)
    async with Database(settings.require_database_url(), min_size=1, max_size=2) as db:
        service = build_service(settings, db, load_keys(settings))
        await service.create_tenant(
            slug=DEMO_TENANT, name="Demo tenant", admin_email=DEMO_EMAIL, admin_password=password
        )
    data = {"tenant": DEMO_TENANT, "username": DEMO_EMAIL, "password": password}
    mark_pending(state_dir)
    write_private(login_file, json.dumps(data))
    return data


def _dev(args: argparse.Namespace) -> int:
    check_ports(args.host, args.port, max(1, args.nodes))  # before the database starts and the banner
    if args.nodes > 1:
        return _dev_cluster(args)
    from deploy.local import Dispatcher, EmbeddedEnvironment

    state_dir: Path = args.state_dir.resolve()
    env = EmbeddedEnvironment(state_dir)
    urls = asyncio.run(env.prepare())
    base = f"http://{args.host}:{args.port}"
    overrides: dict[str, Any] = {
        "env": "dev",
        "database_url": urls.service,
        "migration_database_url": urls.owner,
        "public_url": base,
        "state_dir": state_dir,
    }
    if not os.environ.get("POCDOJO_OPERATOR_TOKEN"):
        overrides["operator_token"] = env.operator_token()
    if not os.environ.get("POCDOJO_TICKET_SECRET"):
        overrides["ticket_secret"] = env.ticket_secret()
    if not os.environ.get("POCDOJO_TURN_SECRET"):
        overrides["turn_secret"] = env.turn_secret()
    if not os.environ.get("POCDOJO_MEDIA_URL_SECRET"):
        overrides["media_url_secret"] = env.media_url_secret()
    settings = Settings.from_env(**overrides)
    if settings.auth_mode == "local" and settings.auth_jwks_url is None:
        # This process's identity service publishes the keys of the state dir: read them here, not from
        # the issuer's URL (in a `--nodes` cluster that is another node, which may be down).
        settings = settings.model_copy(update={"auth_jwks_url": f"{base}/.well-known/jwks.json"})
    configure_logging(settings.log_level, json=settings.log_json)
    configure_tracing(settings)
    demo = asyncio.run(_ensure_demo(settings, state_dir))
    from deploy.demo_samples import DemoSeeder
    from media.worker import MediaWorker

    # One media worker in this process (an asyncio task beside the services, stopped before them): it shares
    # the dev settings and secrets as they are, and `--nodes N` runs N of them. Production runs workers as
    # their own processes (`pocdojo worker media`).
    dispatcher = Dispatcher(
        [(spec.path_prefixes, spec.factory(settings)) for spec in SERVICES.values()],
        background=[MediaWorker(settings).run],
    )
    dispatcher.background.append(DemoSeeder(dispatcher, state_dir, demo).run)
    apply_gc_policy(settings.gc_young_threshold, freeze=settings.gc_freeze_at_start)
    print(
        f"\nPOC Dojo is starting on {base}  (state in {state_dir})\n"
        f"  demo login: tenant={demo['tenant']} username={demo['username']} password={demo['password']}\n"
        f"  get a token:\n"
        f"    curl -s -X POST {base}/v1/auth/token -d grant_type=password -d tenant={demo['tenant']} \\\n"
        f"         -d username={demo['username']} -d password='{demo['password']}'\n"
        f"  operator token for POST /v1/tenants: {state_dir / 'operator-token'}\n"
        f"  API docs: {base}/docs (every service; problem types: {base}/problems)\n",
        flush=True,
    )
    server = uvicorn.Server(_uvicorn_config(dispatcher, args.host, args.port, settings.collab_max_frame_bytes))
    exit_on_sigterm()
    try:
        server.run()
    finally:
        # Ordered shutdown: the services have stopped; stop the database this command started.
        if env.postgres.started_here:
            env.postgres.stop()
    return 0


def _dev_cluster(args: argparse.Namespace) -> int:
    """`pocdojo dev --nodes N`: N full node processes (each its own OS process, so one can be killed)
    on ports P..P+N-1, sharing one PostgreSQL and one Redis. The parent prepares the state once,
    starts Redis unless REDIS_URL is set, forwards SIGINT/SIGTERM to the nodes and stops what it
    started when they are gone.

    The nodes are one service, as behind a load balancer: one token issuer (`POCDOJO_AUTH_ISSUER`, else
    the cluster's first address http://HOST:P) and one signing key set, ticket secret, TURN secret and
    media URL secret (the state dir's), so a token, refresh token or download link from any node works on
    every node."""
    import signal
    import subprocess
    import time

    from deploy.local import EmbeddedEnvironment
    from identity.app import load_keys
    from runtime.embedded_redis import EmbeddedRedis
    from runtime.ports import free_port

    state_dir: Path = args.state_dir.resolve()
    env = EmbeddedEnvironment(state_dir)
    urls = asyncio.run(env.prepare())
    base_settings = Settings.from_env(
        env="dev", database_url=urls.service, state_dir=state_dir, public_url=f"http://{args.host}:{args.port}"
    )
    asyncio.run(_ensure_demo(base_settings, state_dir))
    load_keys(base_settings)  # the one key set every node signs and verifies with
    env.operator_token()
    env.ticket_secret()
    env.turn_secret()
    env.media_url_secret()
    redis_url = os.environ.get("REDIS_URL")
    redis: EmbeddedRedis | None = None
    if not redis_url:
        redis = EmbeddedRedis(free_port(), state_dir / "redis")
        redis.start()
        redis_url = redis.url
    children: list[subprocess.Popen[bytes]] = []
    try:
        for index in range(args.nodes):
            port = args.port + index
            child_env = {
                **os.environ,
                "REDIS_URL": redis_url,
                "POCDOJO_NODE_ID": f"node{index + 1}:{port}",
                "POCDOJO_AUTH_ISSUER": base_settings.issuer,
            }
            children.append(
                subprocess.Popen(  # noqa: S603 - this same program
                    [
                        sys.executable,
                        "-m",
                        "deploy.cli",
                        "dev",
                        "--host",
                        args.host,
                        "--port",
                        str(port),
                        "--state-dir",
                        str(state_dir),
                    ],
                    env=child_env,
                )
            )
        print(
            f"\nPOC Dojo cluster: {args.nodes} nodes sharing Redis {redis_url}, token issuer {base_settings.issuer}",
            flush=True,
        )
        for index, child in enumerate(children):
            print(f"  node{index + 1}: http://{args.host}:{args.port + index}  (pid {child.pid})", flush=True)

        def forward(signum: int, _frame: object) -> None:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signum)

        signal.signal(signal.SIGINT, forward)
        signal.signal(signal.SIGTERM, forward)
        while any(child.poll() is None for child in children):
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
                child.wait(15)
        if redis is not None:
            redis.stop()
        if env.postgres.started_here:
            env.postgres.stop()
    return 0


# -- serve ----------------------------------------------------------------------------------------
def _serve(args: argparse.Namespace) -> int:
    spec = SERVICES[args.service]
    settings = spec.settings_class.from_env(service_name=f"pocdojo-{args.service}")
    configure_logging(settings.log_level, json=settings.log_json)
    configure_tracing(settings)
    app = spec.factory(settings)
    apply_gc_policy(settings.gc_young_threshold, freeze=settings.gc_freeze_at_start)
    # Only the dojo service accepts websockets; the others keep uvicorn's default frame limit.
    ws_max_size = settings.collab_max_frame_bytes if isinstance(settings, DojoSettings) else 16 * 1024 * 1024
    with internal_metrics_listener(settings):
        uvicorn.Server(_uvicorn_config(app, args.host, args.port, ws_max_size, ws=spec.ws_protocol)).run()
    return 0


# -- worker ---------------------------------------------------------------------------------------
def _worker(args: argparse.Namespace) -> int:
    from media.worker import MediaWorker, run_until_signalled

    overrides: dict[str, Any] = {"service_name": f"pocdojo-{args.service}-worker"}
    if args.concurrency is not None:
        overrides["media_worker_concurrency"] = args.concurrency
    settings = MediaSettings.from_env(**overrides)
    configure_logging(settings.log_level, json=settings.log_json)
    configure_tracing(settings)
    worker = MediaWorker(settings)
    apply_gc_policy(settings.gc_young_threshold, freeze=settings.gc_freeze_at_start)
    with internal_metrics_listener(settings):
        run_until_signalled(worker)
    return 0


# -- db bootstrap ---------------------------------------------------------------------------------
BOOTSTRAP_VARIABLES = ("POCDOJO_BOOTSTRAP_ADMIN_URL", "POCDOJO_OWNER_PASSWORD", "POCDOJO_SERVICE_PASSWORD")


async def _db_bootstrap(args: argparse.Namespace) -> int:
    """The once-per-cluster step before `migrate`: the roles of ARCHITECTURE §4 with the given passwords
    (set again when they exist: this is also how a rotated password reaches PostgreSQL) and the database,
    owned by the owner role."""
    from runtime.bootstrap import OWNER_ROLE, Credentials, ensure_database, ensure_roles

    missing = [name for name in BOOTSTRAP_VARIABLES if not os.environ.get(name)]
    if missing:
        print(f"error: set {', '.join(missing)}", file=sys.stderr)
        return 2
    admin = os.environ["POCDOJO_BOOTSTRAP_ADMIN_URL"]
    await ensure_roles(admin, Credentials(os.environ["POCDOJO_OWNER_PASSWORD"], os.environ["POCDOJO_SERVICE_PASSWORD"]))
    conn = await asyncpg.connect(admin)
    try:
        # An administrator that is not a superuser (Aurora's master user) may create a database owned by
        # another role only if it may SET ROLE to it: PostgreSQL 16+ gives a role's creator ADMIN, not that.
        if not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            await conn.execute(f'GRANT "{OWNER_ROLE}" TO CURRENT_USER WITH INHERIT FALSE, SET TRUE')
    finally:
        await conn.close()
    created = await ensure_database(admin, args.database)
    print(f"roles ready; database {args.database}: {'created' if created else 'already there'}")
    return 0


# -- migrate / tenants ------------------------------------------------------------------------------
async def _owner_dsn(state_dir: Path) -> tuple[str, str]:
    """(owner dsn, service dsn): from the environment, else the embedded server's."""
    settings = Settings.from_env()
    if settings.migration_database_url or settings.database_url:
        service = settings.require_database_url() if settings.database_url else ""
        owner = settings.migration_database_url or settings.database_url
        assert owner is not None
        return owner.get_secret_value(), service
    from deploy.local import EmbeddedEnvironment

    urls = await EmbeddedEnvironment(state_dir).prepare(migrate=False)
    return urls.owner, urls.service


async def _migrate(args: argparse.Namespace) -> int:
    owner, _ = await _owner_dsn(args.state_dir)
    targets = [s for s in schemas() if args.service in (None, s.schema)]
    conn = await asyncpg.connect(owner)
    try:
        for target in targets:
            if args.action == "up":
                done = await migrations.upgrade(conn, target)
                print(f"{target.schema}: applied {done or 'nothing (up to date)'}")
            elif args.action == "down":
                undone = await migrations.downgrade(conn, target, steps=args.steps)
                print(f"{target.schema}: rolled back {undone or 'nothing'}")
            else:
                st = await migrations.status(conn, target)
                print(f"{target.schema}: applied {st.applied} pending {st.pending}")
    finally:
        await conn.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # A malformed CRDT update can make the Rust engine panic (refused cleanly); capturing a backtrace
    # for each would let a client burn CPU on purpose.
    os.environ["RUST_BACKTRACE"] = "0"
    from runtime.errors import ServiceError

    try:
        if args.command == "dev":
            return _dev(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "worker":
            return _worker(args)
        if args.command == "migrate":
            return asyncio.run(_migrate(args))
        if args.command in ("tenants", "users"):
            return asyncio.run(operator_cli.run(args, _owner_dsn))
        if args.command == "db":
            return asyncio.run(_db_bootstrap(args))
    except (migrations.MigrationError, BootstrapError, ServiceError, ValueError, asyncpg.PostgresError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except PortBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
