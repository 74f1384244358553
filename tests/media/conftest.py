"""Fixtures shared by the media tests: moto's standalone S3 server.

`moto_s3` starts `python -m moto.server` (moto[server]) once per session on 127.0.0.1 and a free port,
waits until it answers, and stops it at the end. Tests make their own bucket (a fresh name each), so
they never see each other's objects. The server is a real HTTP endpoint: boto3 talks to it over TCP
exactly as to S3, no client is mocked.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
import pytest

from runtime.ports import free_port
from tests.conftest import wait_until

MOTO_REGION = "us-east-1"


@dataclass
class MotoS3:
    endpoint_url: str
    process: asyncio.subprocess.Process
    clients: list[Any] = field(default_factory=list)

    def session(self) -> boto3.session.Session:
        """Credentials moto accepts (any), passed explicitly: the tests never read the machine's."""
        return boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=MOTO_REGION
        )

    def client(self, service: str = "s3") -> Any:
        """A boto3 client on moto, to set up or look behind what a test drives (closed by moto's end)."""
        client = self.session().client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]
        self.clients.append(client)
        return client

    def new_bucket(self) -> str:
        name = f"media-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=name)
        return name


@asynccontextmanager
async def start_moto(**env: str) -> AsyncIterator[MotoS3]:
    """moto's standalone server on 127.0.0.1 and a free port (`env`: moto's settings, e.g.
    `INITIAL_NO_AUTH_ACTION_COUNT` to check credentials and IAM policies), stopped on exit."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "moto.server",
        "-H",
        "127.0.0.1",
        "-p",
        str(port),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, **env},
    )
    moto = MotoS3(endpoint, process)
    try:
        async with httpx.AsyncClient(timeout=1.0) as client:

            async def answers() -> bool:
                if process.returncode is not None:
                    raise RuntimeError(f"moto's server exited with status {process.returncode}")
                try:
                    await client.get(f"{endpoint}/moto-api/")
                except httpx.TransportError:
                    return False
                return True

            await wait_until(answers, within=30.0, interval=0.1)
        yield moto
    finally:
        for opened in moto.clients:
            opened.close()
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()


@pytest.fixture(scope="session")
async def moto_s3() -> AsyncIterator[MotoS3]:
    async with start_moto() as moto:
        yield moto
