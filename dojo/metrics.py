"""Prometheus metrics of the dojo service (this node's view; sum over nodes for the cluster)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DOJOS_FOLLOWED = Gauge("pocdojo_dojos_active", "Active dojos with connections on this node")
PARTICIPANTS_CONNECTED = Gauge(
    "pocdojo_dojo_participants_connected", "Collab connections of dojo participants on this node"
)
DOJO_EVENTS = Counter("pocdojo_dojo_events_total", "Dojo events between nodes", ["kind", "outcome"])
CHAT_MESSAGES = Counter("pocdojo_dojo_chat_messages_total", "Dojo chat messages", ["outcome"])
DOJOS_CREATED = Counter("pocdojo_dojos_created_total", "Dojos created")
WS_ABNORMAL_CLOSES = Counter(
    "pocdojo_ws_abnormal_closes_total",
    "Collab and signaling websockets ended with an error code (1011, 1013, 4xxx refusals), by endpoint and code",
    ["endpoint", "code"],
)
"""What the deployment's close-code anomaly alarm reads (`deploy.aws.metric_names.WS_ABNORMAL_CLOSES`)."""


def count_abnormal_close(endpoint: str, code: int | None, known: frozenset[int]) -> None:
    """Count a websocket of `endpoint` ("collab", "signal") that ended with `code`, if it is an error code;
    codes outside `known` (the endpoint's own) share the label value "other", so the label set stays bounded."""
    if code is None or not (code in (1011, 1013) or 4000 <= code <= 4999):
        return
    WS_ABNORMAL_CLOSES.labels(endpoint, str(code) if code in known else "other").inc()
