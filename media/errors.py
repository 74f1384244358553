"""The media service's own failures, below the HTTP error tree of `runtime.errors`.

MediaError                         (base; a job failure a user can read is `JobFailed`)
├── StorageError                   the object store refused or lost an operation
│   └── StorageUnavailable         the store cannot be reached now (a job retries later)
├── SourceError                    the POCs could not be read from the POC service
│   └── SourceUnavailable          the POC service cannot be reached now (a job retries later)
└── RenderError                    a report or video could not be drawn from valid data
    ├── RenderTimeout              the render ran past its time limit (its encoder was killed)
    └── RenderCancelled            the render was cancelled while running (its encoder was killed)
"""

from __future__ import annotations


class MediaError(Exception):
    """Base of the media service's failures; `str(error)` is a sentence a user may read."""


class StorageError(MediaError):
    """The object store refused an operation (missing bucket, denied, corrupt object)."""


class StorageUnavailable(StorageError):
    """The object store cannot be reached now; retrying later may succeed."""


class SourceError(MediaError):
    """The POC service refused to give the report's POCs (export gone, expired, refused)."""


class SourceUnavailable(SourceError):
    """The POC service cannot be reached now; retrying later may succeed."""


class RenderError(MediaError):
    """A document could not be drawn from valid data."""


class RenderTimeout(RenderError):
    """A render ran past its time limit; its encoder was killed and nothing was left behind."""


class RenderCancelled(RenderError):
    """A render was cancelled while it ran; its encoder was killed and nothing was left behind."""
