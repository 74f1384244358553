"""What `POST /v1/videos {kind: "dojo-replay"}` checks and obtains before it queues a job: the caller may
read the dojo's history now (the dojo service decides, with the caller's token), the dojo has ended, its
title and its authors' names (the worker reads the history without a token, so without names), and a
history grant the worker reads the history with later (`media.dojos_client`; no token is kept). A
refusal is answered at once, precisely, rather than as a failed job later:

- unknown dojo, another tenant's, or one the caller did not take part in → 422 on `dojo_id` (`not_found`);
- the tenant keeps no history → 409 `history-off`; the dojo still running → 409 `dojo-running`;
- the caller's token refused by the dojo service → 401; the dojo service unreachable → 503.
"""

from __future__ import annotations

import uuid
from typing import Any

from media.dojos_client import HistoryGrant
from media.errors import DojoAccessDenied, DojoHistoryError, DojoHistoryOff, DojoHistoryUnavailable, DojoNotFound
from media.sources import DojoHistories
from runtime.errors import Conflict, FieldError, ServiceUnavailable, Unauthorized, ValidationFailed

_RETRY = {"Retry-After": "5"}


async def replay_values(dojos: DojoHistories, bearer: str, dojo_id: uuid.UUID, speed: float) -> dict[str, Any]:
    """The replay's own columns of the video row, once the dojo service said the caller may replay it and
    granted the worker to read its history (revoke `grant_of_values` if no video is queued with it)."""
    try:
        history = await dojos.history(bearer, str(dojo_id))
        title = await dojos.title(bearer, str(dojo_id))
        if history.ended_at is None:
            raise Conflict("The dojo is still running: ask for its replay once it has ended.", code="dojo-running")
        grant = await dojos.grant(bearer, str(dojo_id))
    except DojoNotFound as exc:
        raise ValidationFailed([FieldError("dojo_id", "not_found", str(exc))]) from exc
    except DojoHistoryOff as exc:
        raise Conflict(str(exc), code="history-off") from exc
    except DojoAccessDenied as exc:
        raise Unauthorized(str(exc)) from exc
    except DojoHistoryUnavailable as exc:
        raise ServiceUnavailable(f"{exc} Try again shortly.", headers=_RETRY) from exc
    except DojoHistoryError as exc:
        raise ServiceUnavailable(f"The dojo's history cannot be read now: {exc}", headers=_RETRY) from exc
    names = {author.user_id: author.display_name for author in history.authors}
    return {
        "kind": "dojo-replay",
        "dojo_id": dojo_id,
        "speed": speed,
        "header": {"dojo_title": title, "author_names": names},
        "grant_id": grant.id,
        "grant_secret": grant.secret,
        "grant_expires_at": grant.expires_at,
    }


def grant_of_values(values: dict[str, Any]) -> HistoryGrant:
    """The grant `replay_values` obtained."""
    return HistoryGrant(
        id=values["grant_id"],
        dojo_id=str(values["dojo_id"]),
        secret=values["grant_secret"],
        expires_at=values["grant_expires_at"],
    )
