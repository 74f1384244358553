"""The POC service's composition root: what its handlers use, built once by its lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from poc_api.exports import ExportService
from poc_api.service import PocService
from runtime.root import request_root, root_of
from runtime.settings import PocSettings

__all__ = ["PocServices", "services", "services_of"]


@dataclass(eq=False)
class PocServices:
    """Built by `poc_api.app`'s startup after the database and the token verifier (the outbox relay starts
    after it and stops before it)."""

    settings: PocSettings
    pocs: PocService
    exports: ExportService


def services_of(app: Starlette) -> PocServices:
    return root_of(app).services(PocServices)


def services(connection: HTTPConnection) -> PocServices:
    """The POC service's components, for a handler."""
    return request_root(connection).services(PocServices)
