"""`pocdojo tenants ...` and `pocdojo users ...`: the operator's commands against the real database.

    pocdojo tenants create --slug S --name N --admin-email E [--self-signup]
    pocdojo tenants list
    pocdojo users list --tenant T
    pocdojo users create --tenant T --email E [--role admin|member] [--password-stdin]
    pocdojo users reset-password --tenant T --email E [--password-stdin]
    pocdojo users set-role --tenant T --email E --role admin|member [--force]

They use DATABASE_URL when set, else the embedded server of `--state-dir` (as `pocdojo migrate`).
Passwords are never taken from the command line (it shows in `ps` and shell history): from
$POCDOJO_ADMIN_PASSWORD for `tenants create`, from stdin with `--password-stdin`, else generated and
printed once on stdout for the operator to hand over. Nothing here logs a password.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import secrets
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from identity.operator import ROLE_SETS, TenantOperator
from runtime.settings import Settings


def add_commands(sub: Any, add_state_dir: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `tenants` and `users` to the `pocdojo` parser's subcommands."""
    tenants = sub.add_parser("tenants", help="manage tenants", description="Manage tenants.")
    tsub = tenants.add_subparsers(dest="tenants_command", required=True, help="what to do with tenants")
    create = tsub.add_parser("create", help="create a tenant and its first administrator")
    create.add_argument("--slug", required=True, help="the tenant's short name in URLs and logins (a-z, 0-9, -)")
    create.add_argument("--name", required=True, help="the tenant's display name")
    create.add_argument("--admin-email", required=True, help="the first administrator's e-mail")
    create.add_argument(
        "--admin-password",
        help="the administrator's password; better $POCDOJO_ADMIN_PASSWORD (else asked on the terminal)",
    )
    create.add_argument(
        "--self-signup",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="let people sign themselves up (off: an administrator creates users or invitations)",
    )
    add_state_dir(create)
    listed = tsub.add_parser("list", help="list tenants with their user and administrator counts")
    add_state_dir(listed)

    users = sub.add_parser("users", help="manage a tenant's users (recover a tenant without an administrator)")
    usub = users.add_subparsers(dest="users_command", required=True, help="what to do with users")

    def user_parser(name: str, help_text: str, *, email: bool = True) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = usub.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("--tenant", required=True, help="the tenant's slug")
        if email:
            parser.add_argument("--email", required=True, help="the user's e-mail")
        add_state_dir(parser)
        return parser

    user_parser("list", "list a tenant's users in creation order", email=False)
    created = user_parser("create", "create a user (an administrator with --role admin)")
    created.add_argument("--role", choices=sorted(ROLE_SETS), default="member", help="the user's role")
    created.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (else one is generated and printed)"
    )
    reset = user_parser("reset-password", "set a new password and end the user's sign-ins")
    reset.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (else one is generated and printed)"
    )
    role = user_parser("set-role", "make a user an administrator or a member")
    role.add_argument("--role", required=True, choices=sorted(ROLE_SETS), help="the user's new role")
    role.add_argument(
        "--force",
        action="store_true",
        help="demote the tenant's last administrator all the same (the tenant is left without one)",
    )


@asynccontextmanager
async def _operator(state_dir: Path, owner_dsn: Callable[[Path], Any]) -> AsyncIterator[TenantOperator]:
    from identity.app import build_service
    from identity.keys import KeyRing, SigningKey
    from runtime.db import Database

    if os.environ.get("DATABASE_URL"):
        settings = Settings.from_env()
    else:
        _, service_dsn = await owner_dsn(state_dir)
        settings = Settings.from_env(database_url=service_dsn, state_dir=state_dir, env="dev")
    # The operator signs no token: a throwaway key stands in for the signing keys the service needs.
    ring = KeyRing([SigningKey.generate()])
    async with Database(settings.require_database_url(), min_size=1, max_size=2) as db:
        yield TenantOperator(build_service(settings, db, ring))


def _new_password(args: argparse.Namespace) -> tuple[str, bool]:
    """(password, generated): read from stdin with --password-stdin, else a new random one."""
    if getattr(args, "password_stdin", False):
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise ValueError("--password-stdin: stdin held no password")
        return password, False
    return secrets.token_urlsafe(15), True


def _print_password(password: str) -> None:
    """The one place a password is shown: stdout, once, for the operator to hand over."""
    print(f"one-time password (give it to the user; it is not stored anywhere else): {password}")


async def run(args: argparse.Namespace, owner_dsn: Callable[[Path], Any]) -> int:
    """Run a `tenants` or `users` command; errors propagate (`pocdojo` prints them, exit status 1)."""
    if args.command == "tenants" and args.tenants_command == "create":
        password = args.admin_password or os.environ.get("POCDOJO_ADMIN_PASSWORD")
        if not password:
            if not sys.stdin.isatty():
                print("error: give --admin-password or set POCDOJO_ADMIN_PASSWORD", file=sys.stderr)
                return 2
            password = getpass.getpass("admin password: ")
        async with _operator(args.state_dir, owner_dsn) as operator:
            tenant = await operator.service.create_tenant(
                slug=args.slug,
                name=args.name,
                admin_email=args.admin_email,
                admin_password=password,
                self_signup=args.self_signup,
            )
        print(json.dumps(tenant))
        return 0
    async with _operator(args.state_dir, owner_dsn) as operator:
        if args.command == "tenants":
            for tenant in await operator.list_tenants():
                print(json.dumps(tenant))
            return 0
        command = args.users_command
        if command == "list":
            for user in await operator.list_users(args.tenant):
                print(json.dumps(user))
            return 0
        if command == "set-role":
            print(json.dumps(await operator.set_role(args.tenant, args.email, args.role, force=args.force)))
            return 0
        password, generated = _new_password(args)
        if command == "create":
            user = await operator.create_user(args.tenant, args.email, password, args.role)
        else:
            user = await operator.reset_password(args.tenant, args.email, password)
        print(json.dumps(user))
        if generated:
            _print_password(password)
        return 0
