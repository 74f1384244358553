"""`pocdojo dev` on a fresh state directory runs a media worker: a report asked for over HTTP is made and
downloaded, with nothing else started."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.conftest import wait_until
from tests.deploy.test_cli import signed_in_dev


async def test_dev_makes_a_report_end_to_end(server_dir: Path) -> None:
    async with signed_in_dev(server_dir) as (http, auth):
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
