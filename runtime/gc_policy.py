"""The garbage collector's policy for a long-running service process (`pocdojo serve`, `pocdojo worker`,
and `pocdojo dev`'s one process).

CPython collects its youngest generation after every 700 net allocations of container objects, and the
whole heap every 100 of those collections (when enough survived). A realtime node allocates a few small
objects per frame and holds ~150,000 long-lived ones (modules, connections, rooms), so under load the
full collections, each a scan of that heap, cost it 10-12 % of its CPU (`bench/README_cluster.md`,
2026-12-06 fourth session: 5.3 s of collections in 56 s at 16-40 edits/s per client, 0.8 s with a young
threshold of 20,000). Two remedies, both in the standard `gc` module's documented API:

- a larger young threshold (`gc_young_threshold`): collections come less often; each young one scans
  more objects, the full ones (the expensive part) come ~30 times less often;
- `gc.freeze()` once the app is built (`gc_freeze_at_start`): what imports and start-up made moves to a
  permanent generation that full collections no longer scan (it is never freed, as it lives as long as
  the process anyway).

Reference cycles are still collected; only how often changes.
"""

from __future__ import annotations

import gc
import logging

__all__ = ["apply_gc_policy"]

log = logging.getLogger("runtime.gc_policy")


def apply_gc_policy(young_threshold: int, *, freeze: bool) -> None:
    """Set the young generation's threshold (0: CPython's defaults stay) and, if `freeze`, move every
    object alive now to the permanent generation. Call once, after the app is built."""
    if young_threshold > 0:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(young_threshold, older, oldest)
    if freeze:
        gc.collect()  # what start-up left as garbage goes first, not into the permanent generation
        gc.freeze()
    log.info("garbage collector: thresholds %s, %d objects frozen", gc.get_threshold(), gc.get_freeze_count())
