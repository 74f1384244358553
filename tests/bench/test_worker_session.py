"""bench/cluster_loadgen.py: each generator worker runs in a session of its own, so that the kernel's
scheduler autogroups (CPU shared between sessions) give it a share of its own, as each node has, instead of
one share for every worker, the orchestrator and Redis together (see cluster_loadgen's module doc)."""

from __future__ import annotations

import os

from collab_cluster import ClusterWorkerPool, autogroup_line


def test_each_generator_worker_leads_a_session_of_its_own() -> None:
    pool = ClusterWorkerPool(2)
    try:
        # A first answer: each worker is in its command loop, past what it does at start.
        assert pool.call_all({"op": "tag_ports", "ports": b""}, 30) == [{"tags": 0}, {"tags": 0}]
        sessions = {os.getsid(proc.pid) for proc in pool.procs}
        assert sessions == {proc.pid for proc in pool.procs}  # each one leads its own
        assert os.getsid(0) not in sessions
    finally:
        pool.shutdown()


def test_the_autogroup_line_reads_the_setting(tmp_path) -> None:  # type: ignore[no-untyped-def]
    setting = tmp_path / "sched_autogroup_enabled"
    setting.write_text("1\n")
    assert autogroup_line(setting).startswith("scheduler autogroups: on")
    setting.write_text("0\n")
    assert autogroup_line(setting).startswith("scheduler autogroups: off")
    assert autogroup_line(tmp_path / "missing").startswith("scheduler autogroups: unknown")
