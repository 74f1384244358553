"""Traces of the collab path: a client's document update, across nodes, is one trace.

- The node that accepts an update from a WebSocket client handles its frame under a `collab.update`
  span (`traced_frames`); the document bus (`dojo.redis_bus`) appends the update to the room's log with
  that span's context (W3C `traceparent`, `tracestate`: `runtime.tracing.trace_context`).
- A node that reads the update from the log applies it and broadcasts it to its own clients under a
  `collab.apply` span, the child of the sender's (`apply_span`).

Only while tracing is on: without a tracer provider the endpoint hands the room's own frame handler to
the connection (no wrapper, no span object per frame) and the bus adds no field to its entries. Spans
name the node they ran on (`pocdojo.node`): nodes of one trace are told apart even in one process.
Attributes are bounded: ids, a room name (at most 128 characters, `dojo.room_names`), sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from dojo.docstore import BadRoomKey, RoomKey
from runtime.tracing import consumer_span

tracer = trace.get_tracer("pocdojo.dojo.collab")

UPDATE_SPAN = "collab.update"
APPLY_SPAN = "collab.apply"

_SYNC = 0
_DOCUMENT_UPDATES = frozenset({1, 2})  # sync step2 and update: the frames that carry a document change

Channel = TypeVar("Channel")


def room_attributes(key: str, node: str) -> dict[str, Any]:
    """The span attributes naming room `key` (`<tenant>/<room>`) on `node`."""
    attributes: dict[str, Any] = {"pocdojo.node": node}
    try:
        parsed = RoomKey.parse(key)
    except BadRoomKey:
        return attributes  # not a tenant's room: the node alone
    attributes["pocdojo.tenant_id"] = str(parsed.tenant_id)
    attributes["pocdojo.room"] = parsed.room
    return attributes


def is_document_update(data: bytes) -> bool:
    """Whether a client frame carries a document change (sync step2 or update)."""
    return len(data) > 1 and data[0] == _SYNC and data[1] in _DOCUMENT_UPDATES


def traced_frames(
    handler: Callable[[Channel, bytes], None], *, key: str, node: str
) -> Callable[[Channel, bytes], None]:
    """`handler` (a room's `receive`) with every document update handled under a `collab.update` span;
    other frames (awareness, sync step1…) are passed on as they are."""
    attributes = room_attributes(key, node)

    def receive(channel: Channel, data: bytes) -> None:
        if not is_document_update(data):
            handler(channel, data)
            return
        with tracer.start_as_current_span(UPDATE_SPAN, kind=SpanKind.SERVER, attributes=attributes) as span:
            span.set_attribute("pocdojo.collab.frame_bytes", len(data))
            handler(channel, data)

    return receive


@contextmanager
def apply_span(key: str, node: str, sender: str, carried: Mapping[str, str]) -> Iterator[trace.Span]:
    """The span of applying (and broadcasting) one change `sender` appended to the log with `carried`."""
    attributes = room_attributes(key, node)
    attributes["pocdojo.collab.sender"] = sender
    with consumer_span(tracer, APPLY_SPAN, carried, attributes) as span:
        yield span
