"""What the media service needs from its neighbours, as protocols: the POC service's export (issue 13,
decision 1; implemented by `media.pocs_client.PocsClient`), the caller's names from identity
(`media.identity_client`) and a dojo's history (replay videos; `media.dojos_client.DojosClient`).
The job and the API depend on these, so tests and benchmarks can hand them the real clients or others."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from media.dojos_client import DojoAuth, HistoryGrant
from media.pocs_client import ExportHandle
from media.reports.model import PocRow, ReportFilters
from media.repository import Report
from media.video.replay_model import ReplayHistory


class PocExports(Protocol):
    async def create_export(self, bearer: str, filters: ReportFilters) -> ExportHandle: ...

    def iter_rows(self, handle: ExportHandle, page_size: int = 1000) -> AsyncIterator[PocRow]: ...

    async def delete_export(self, handle: ExportHandle) -> None: ...


@dataclass(frozen=True, slots=True)
class CallerNames:
    tenant_name: str
    user_name: str


class Directory(Protocol):
    async def caller_names(self, bearer: str) -> CallerNames: ...


class DojoHistories(Protocol):
    async def history(self, auth: DojoAuth, dojo_id: str) -> ReplayHistory: ...

    async def title(self, bearer: str, dojo_id: str) -> str: ...

    async def grant(self, bearer: str, dojo_id: str) -> HistoryGrant: ...

    async def revoke(self, grant: HistoryGrant) -> None: ...

    def frames(self, auth: DojoAuth, dojo_id: str, instants: Sequence[int]) -> AsyncIterator[bytes]: ...


def export_of(report: Report) -> ExportHandle | None:
    """The export a report was frozen into, as the client reads it (None once the report no longer needs it)."""
    if report.export_id is None or report.export_secret is None or report.export_expires_at is None:
        return None
    return ExportHandle(
        id=report.export_id,
        secret=report.export_secret,
        count=report.row_count or 0,
        expires_at=report.export_expires_at,
    )
