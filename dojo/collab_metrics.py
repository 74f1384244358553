"""Prometheus metrics of the collab engine, as one room extension (`CollabMetrics`).

Theory of operation. The hot path costs nothing more than the counters every room already keeps
(`crdt.RoomStats`: a few integer additions per frame): those are read when Prometheus scrapes, by a
collector that sums the rooms in memory and what unloaded rooms had counted, so counters never go
back. Rare events — a connection's close code, a store call, a gap — are recorded as they happen,
through the extension's hooks and the observers that `crdt.PersistenceExtension` and
`crdt.FanoutExtension` accept; the lag of the cross-node log, observed for every message of another
node, goes to a `LagHistogram` that the collector reads. Everything lands on the process
registry that `/metrics` serves. Label values are bounded: close codes are the documented ones
(anything else is `other`), store operations are `load`, `append` and `compact`.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate
from typing import Final

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from crdt import SLOW_CLIENT_REASON, CloseCode, Disconnect, Room, RoomExtension, StoreCall
from dojo.metrics import count_abnormal_close

_PREFIX: Final = "pocdojo_collab"
_COUNTED: Final = ("updates_in", "updates_out", "bytes_in", "bytes_out")
COLLAB_CLOSE_CODES: Final = frozenset(int(code) for code in CloseCode)
_KNOWN_CODES: Final = frozenset({*COLLAB_CLOSE_CODES, 1005, 1006})
"""Close codes that get their own label value: ours, plus 1005 (no code) and 1006 (lost)."""

CLOSES = Counter(
    f"{_PREFIX}_closes_total",
    "Collab connections ended, by close code (sent by either side; 1006: lost; other: undocumented codes)",
    ["code"],
)
SLOW_CLIENT_CLOSES = Counter(
    f"{_PREFIX}_slow_client_closes_total", "Collab connections closed because their unsent backlog went past its bound"
)
STORE_SECONDS = Histogram(
    f"{_PREFIX}_store_seconds",
    "Duration of document store calls, by operation",
    ["operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
STORE_RETRIES = Counter(
    f"{_PREFIX}_store_retries_total", "Document store calls that retried a failed save or compaction", ["operation"]
)
STORE_FAILURES = Counter(f"{_PREFIX}_store_failures_total", "Document store calls that failed", ["operation"])


class LagHistogram:
    """A histogram for a hot path, counted in plain lists: an observation is one bisect and two
    additions, where a `prometheus_client.Histogram` takes a lock and walks its buckets (the bus lag is
    observed for every message of another node's changes: ~330 a second per node in the 3-node fan-out
    benchmark). Only the event loop observes; the collector reads it (a scrape may see one observation
    in the sum and not yet in its bucket, never a count that goes back)."""

    __slots__ = ("bounds", "counts", "name", "sum")

    def __init__(self, name: str, bounds: tuple[float, ...]) -> None:
        self.name = name
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one: above every bound (+Inf)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def family(self, documentation: str) -> HistogramMetricFamily:
        cumulative = list(accumulate(self.counts))
        labels = [*(repr(float(b)) for b in self.bounds), "+Inf"]  # as prometheus_client writes them
        return HistogramMetricFamily(
            self.name, documentation, buckets=list(zip(labels, cumulative, strict=True)), sum_value=self.sum
        )


BUS_LAG = LagHistogram(
    f"{_PREFIX}_bus_lag_seconds", (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
)
_BUS_LAG_HELP: Final = "Time from the shared log taking another node's changes to this node applying them"
BUS_GAPS = Counter(
    f"{_PREFIX}_bus_gaps_total", "Rooms that lost continuity with the shared log and were resynchronized"
)
BUS_CATCH_UPS = Counter(
    f"{_PREFIX}_bus_catch_ups_total",
    "Times a room read the shared log's stream because its pushed entries did not follow on (a lost message)",
)


def close_label(code: int | None) -> str:
    """The label value of a close code (a bounded set)."""
    if code is None:
        return "unknown"
    return str(code) if code in _KNOWN_CODES else "other"


class CollabMetrics(RoomExtension):
    """Counts what this node's rooms do (see module doc); pass it as the observer of the persistence
    and fan-out extensions too."""

    priority = 0  # after every other extension: it only watches

    def __init__(self) -> None:
        self._rooms: dict[str, Room] = {}
        self._unloaded = dict.fromkeys(_COUNTED, 0)
        _COLLECTOR.watch(self)

    # -- what the collector reads ------------------------------------------------------------------------
    def totals(self) -> dict[str, int]:
        """The counters of every room this extension saw load, unloaded ones included."""
        totals = dict(self._unloaded)
        for room in self._rooms.values():
            stats = room.stats
            for name in _COUNTED:
                totals[name] += getattr(stats, name)
        return totals

    def rooms_loaded(self) -> int:
        return len(self._rooms)

    def connections(self) -> int:
        return sum(len(room.channels) for room in self._rooms.values())

    # -- room hooks -----------------------------------------------------------------------------------------
    async def on_loaded(self, room: Room) -> None:
        self._rooms[room.name] = room

    async def on_unloaded(self, room_name: str) -> None:
        room = self._rooms.pop(room_name, None)
        if room is not None:
            for name in _COUNTED:
                self._unloaded[name] += getattr(room.stats, name)

    def on_disconnect(self, event: Disconnect) -> None:
        CLOSES.labels(close_label(event.code)).inc()
        count_abnormal_close("collab", event.code, COLLAB_CLOSE_CODES)
        if event.code == CloseCode.TRY_AGAIN_LATER and event.reason == SLOW_CLIENT_REASON:
            SLOW_CLIENT_CLOSES.inc()

    # -- observers (crdt.StoreObserver, crdt.FanoutObserver) ------------------------------------------------
    def on_store_call(self, call: StoreCall) -> None:
        STORE_SECONDS.labels(call.operation).observe(call.seconds)
        if call.attempt > 1:
            STORE_RETRIES.labels(call.operation).inc()
        if not call.ok:
            STORE_FAILURES.labels(call.operation).inc()

    def on_bus_lag(self, seconds: float) -> None:
        BUS_LAG.observe(seconds)

    def on_bus_gap(self, rooms: int) -> None:
        BUS_GAPS.inc(rooms)

    async def on_shutdown(self) -> None:
        # The rooms are gone with their connections: what they counted stays in the process's totals.
        _COLLECTOR.retire(self)
        self._rooms.clear()


class _EngineCollector(Collector):
    """Reads the counters of every live `CollabMetrics` (one per app; usually one per process)."""

    def __init__(self) -> None:
        self._sources: weakref.WeakSet[CollabMetrics] = weakref.WeakSet()
        self._retired = dict.fromkeys(_COUNTED, 0)  # what the sources that shut down had counted

    def watch(self, source: CollabMetrics) -> None:
        self._sources.add(source)

    def retire(self, source: CollabMetrics) -> None:
        if source in self._sources:
            self._sources.discard(source)
            for name, value in source.totals().items():
                self._retired[name] += value

    def collect(self) -> Iterator[Metric]:
        sources = list(self._sources)
        totals = dict(self._retired)
        for source in sources:
            for name, value in source.totals().items():
                totals[name] += value
        yield GaugeMetricFamily(
            f"{_PREFIX}_rooms_loaded",
            "Collab rooms in memory on this node",
            value=sum(s.rooms_loaded() for s in sources),
        )
        yield GaugeMetricFamily(
            f"{_PREFIX}_connections", "Collab connections on this node", value=sum(s.connections() for s in sources)
        )
        yield CounterMetricFamily(
            f"{_PREFIX}_updates_received", "Document updates received from connections", value=totals["updates_in"]
        )
        yield CounterMetricFamily(
            f"{_PREFIX}_updates_sent",
            "Document changes sent to connections (one per connection reached)",
            value=totals["updates_out"],
        )
        yield CounterMetricFamily(
            f"{_PREFIX}_received_bytes", "Bytes of the frames received from connections", value=totals["bytes_in"]
        )
        yield CounterMetricFamily(
            f"{_PREFIX}_sent_bytes", "Bytes of the messages sent to connections", value=totals["bytes_out"]
        )
        yield BUS_LAG.family(_BUS_LAG_HELP)


_COLLECTOR: Final = _EngineCollector()
REGISTRY.register(_COLLECTOR)
