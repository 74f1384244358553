"""The media service's own failures, below the HTTP error tree of `runtime.errors`.

MediaError                         (base; a job failure a user can read is `JobFailed`)
├── StorageError                   the object store refused or lost an operation
│   └── StorageUnavailable         the store cannot be reached now (a job retries later)
├── SourceError                    the POCs could not be read from the POC service
│   ├── SourceUnavailable          the POC service cannot be reached now (a job retries later)
│   └── DojoHistoryError           a dojo's history could not be read from the dojo service (replay video)
│       ├── DojoNotFound           no such dojo for the caller (unknown, another tenant's, not a participant)
│       ├── DojoHistoryOff         the tenant turned the dojos' history off
│       ├── DojoAccessDenied       the caller's token was refused (expired or revoked before the job ran)
│       └── DojoHistoryUnavailable the dojo service cannot be reached now (also a SourceUnavailable: retried)
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


class DojoHistoryError(SourceError):
    """The dojo service refused a dojo's history or answered something this service cannot read."""


class DojoNotFound(DojoHistoryError):
    """No such dojo for the caller: unknown, another tenant's, or one the caller did not take part in."""


class DojoHistoryOff(DojoHistoryError):
    """The tenant turned the dojos' history off: there is nothing to replay."""


class DojoAccessDenied(DojoHistoryError):
    """The dojo service refused the caller's token (expired or revoked)."""


class DojoHistoryUnavailable(DojoHistoryError, SourceUnavailable):
    """The dojo service cannot be reached now, or failed; retrying later may succeed."""
