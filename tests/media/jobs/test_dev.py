"""`pocdojo dev` on a fresh state directory runs a media worker: a report asked for over HTTP is made and
downloaded, with nothing else started."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import httpx

from runtime.embedded_pg import EmbeddedPostgres, free_port
from tests.conftest import wait_until
from tests.deploy.test_cli import LOGIN_RE, _start_dev, _stop


async def test_dev_makes_a_report_end_to_end(server_dir: Path) -> None:
    state = server_dir / "state"
    port = free_port()
    proc, banner = await _start_dev(state, port)
    assert proc.stdout is not None
    drain = asyncio.create_task(proc.stdout.read())  # the server's logs: never let the pipe fill
    try:
        match = LOGIN_RE.search(banner)
        assert match, banner
        tenant, username, password = match.groups()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            token = await http.post(
                "/v1/auth/token",
                data={"grant_type": "password", "tenant": tenant, "username": username, "password": password},
            )
            auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
            poc = {"name": "Integração PIX", "github_url": "https://github.com/acme/pix", "language": "go", "tags": []}
            assert (await http.post("/v1/pocs", json=poc, headers=auth)).status_code == 201
            created = await http.post("/v1/reports", json={"format": "csv", "locale": "pt-BR"}, headers=auth)
            assert created.status_code == 202, created.text
            report_id = created.json()["id"]

            async def done() -> bool:
                report = (await http.get(f"/v1/reports/{report_id}", params={"wait": 5}, headers=auth)).json()
                assert report["status"] in ("queued", "running", "done"), report
                return bool(report["status"] == "done")

            await wait_until(done, within=60, interval=0)
            download = await http.get(f"/v1/reports/{report_id}/download", headers=auth, follow_redirects=True)
            assert download.status_code == 200
            rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
            assert [row for row in rows[1:] if "Integração PIX" in row]
    finally:
        await _stop(proc)
        await drain
        EmbeddedPostgres(state / "pg").stop(mode="immediate")
