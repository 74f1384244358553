"""Brute-force limits through the real token endpoint and PostgreSQL (docs/architecture.md, "Brute
force"): the block doubles from 30 s up to the 15 min cap, and one address is limited across
accounts. Time moves by the throttle's injected clock, never by waiting."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from identity.app import create_app
from identity.throttle import MAX_BLOCK_SECONDS
from runtime.settings import Settings
from tests.conftest import serve_app
from tests.identity.harness import GOOD_PASSWORD, IdentityHarness

PER_ACCOUNT = 3
PER_ADDRESS = 7


class ManualClock:
    """A clock that stands still until the test moves it."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@asynccontextmanager
async def _identity(
    make_settings: Callable[..., Settings], clock: ManualClock, **limits: int
) -> AsyncIterator[IdentityHarness]:
    """The identity service on the test's clock, with the sign-in limits `limits`."""
    holder: dict[str, Settings] = {}

    def factory(base: str) -> Any:
        settings = make_settings(
            public_url=base,
            trusted_proxy_hops=1,
            login_failure_window_seconds=86_400,  # longer than the whole backoff sequence: one window
            **limits,
        )
        holder["settings"] = settings
        return create_app(settings, throttle_clock=clock)

    async with serve_app(factory) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        yield IdentityHarness(base, http, holder["settings"])


async def test_the_block_doubles_from_30_seconds_up_to_the_cap(
    make_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    async with _identity(make_settings, clock, login_max_failures_per_account_ip=PER_ACCOUNT) as identity:
        await _doubles(identity, clock)


async def _doubles(identity: IdentityHarness, clock: ManualClock) -> None:
    admin = await identity.create_tenant()
    attacker = {"X-Forwarded-For": "203.0.113.9"}

    async def guess() -> httpx.Response:
        return await identity.password_grant(admin.tenant, admin.email, "a wrong guess", headers=attacker)

    assert [(await guess()).status_code for _ in range(PER_ACCOUNT)] == [400] * PER_ACCOUNT
    waits = []
    for _ in range(8):
        blocked = await guess()
        assert blocked.status_code == 429, blocked.text
        wait = int(blocked.headers["retry-after"])
        waits.append(wait)
        clock.advance(wait - 1)
        assert (await guess()).status_code == 429  # a second early: still blocked, and not counted
        clock.advance(1)
        assert (await guess()).status_code == 400  # let through to the password check, and counted
    assert waits == [30, 60, 120, 240, 480, MAX_BLOCK_SECONDS, MAX_BLOCK_SECONDS, MAX_BLOCK_SECONDS]


async def test_one_address_is_limited_across_accounts(
    make_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    limits = {"login_max_failures_per_account_ip": PER_ACCOUNT, "login_max_failures_per_ip": PER_ADDRESS}
    async with _identity(make_settings, clock, **limits) as identity:
        await _stuffing(identity, clock)


async def _stuffing(identity: IdentityHarness, clock: ManualClock) -> None:
    admin = await identity.create_tenant()
    accounts = [admin] + [await identity.add_user(admin, f"user{i}@{admin.tenant}.example.com") for i in range(4)]
    stuffer = {"X-Forwarded-For": "198.51.100.77"}
    statuses = []
    for i in range(PER_ADDRESS):  # fewer guesses per account than its own limit; the last account none
        account = accounts[i % (len(accounts) - 1)]
        response = await identity.password_grant(admin.tenant, account.email, "stuffed", headers=stuffer)
        statuses.append(response.status_code)
    assert statuses == [400] * PER_ADDRESS

    # The address is blocked for every account, even with the right password, even a fresh account.
    for account in accounts:
        refused = await identity.password_grant(admin.tenant, account.email, GOOD_PASSWORD, headers=stuffer)
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["retry-after"]) == 30
    # The same accounts from another address are not affected.
    other = {"X-Forwarded-For": "192.0.2.1"}
    for account in accounts:
        signed_in = await identity.password_grant(admin.tenant, account.email, GOOD_PASSWORD, headers=other)
        assert signed_in.status_code == 200, signed_in.text
    # Once the block is over the address signs in again.
    clock.advance(30)
    back = await identity.password_grant(admin.tenant, accounts[-1].email, GOOD_PASSWORD, headers=stuffer)
    assert back.status_code == 200, back.text
