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
