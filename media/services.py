"""The media service's composition root: what its handlers use, built once by its lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from runtime.root import request_root, root_of

if TYPE_CHECKING:
    from media.api import Services
    from media.video_api import VideoServices

__all__ = ["MediaServices", "services", "services_of"]


@dataclass(eq=False)
class MediaServices:
    """Built by `media.app`'s last startup step, after the database and the token verifier: the report
    routes' components and the video routes' (which share them)."""

    reports: Services
    videos: VideoServices


def services_of(app: Starlette) -> MediaServices:
    return root_of(app).services(MediaServices)


def services(connection: HTTPConnection) -> MediaServices:
    """The media service's components, for a handler."""
    return request_root(connection).services(MediaServices)
