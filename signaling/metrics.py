"""Prometheus metrics of the signaling service (the process registry, like `runtime.metrics`).

Label values are bounded: message types are the documented ones (anything else counts as
`unknown`), outcomes and reasons are fixed words.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

MESSAGES = Counter(
    "pocdojo_signal_messages_total",
    "Client signaling messages received, by type and outcome "
    "(relayed, handled, invalid, too_large, unknown_peer, unavailable, rate_limited)",
    ["type", "outcome"],
)
SENT = Counter("pocdojo_signal_sent_total", "Signaling messages queued to clients, by type", ["type"])
PEERS = Gauge("pocdojo_signal_peers", "Peers connected to this node")
ROOMS = Gauge("pocdojo_signal_rooms", "Rooms with at least one peer on this node")
REFUSED = Counter("pocdojo_signal_refused_total", "Signaling connections refused or closed by the server", ["reason"])
GHOSTS = Counter("pocdojo_signal_ghosts_removed_total", "Peers of dead nodes removed from the registry")
TURN_MINTED = Counter("pocdojo_signal_turn_credentials_total", "TURN REST credentials minted")
