"""What the media service needs from its neighbours, as protocols: the POC service's export (issue 13,
decision 1; implemented by `media.pocs_client`) and the caller's names from identity (`media.identity_client`).
The job and the API depend on these, so tests and benchmarks can hand them the real clients or others."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from media.reports.model import PocRow, ReportFilters


class ExportHandle(Protocol):
    """A frozen search of the POC service: its id, its row count and the secret that reads it."""

    @property
    def id(self) -> str: ...

    @property
    def count(self) -> int: ...

    @property
    def secret(self) -> str: ...


@dataclass(frozen=True, slots=True)
class StoredExport:
    """An export as a report row keeps it (what a worker needs to read it again)."""

    id: str
    count: int
    secret: str


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
