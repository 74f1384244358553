"""bench/collab_cluster.py's past-saturation target line: judged on the steps above the peak's rate only;
saturated steps before the peak (a curve still rising) are listed, not judged; a peak at the last rate
cannot be judged."""

from __future__ import annotations

from typing import Any

from collab_cluster import nodes_count_line, past_peak_line


def steps(*pairs: tuple[float, float]) -> dict[str, Any]:
    """A rooms result from (rate, deliveries/s) pairs, 6,000 deliveries/s offered per edit/s."""
    return {
        "steps": [
            {"rate_per_client": rate, "deliveries_per_s": got, "offered_deliveries_per_s": rate * 6000}
            for rate, got in pairs
        ]
    }


def test_a_fall_after_the_peak_misses() -> None:
    line = past_peak_line("affinity", steps((24, 144_000), (32, 161_000), (36, 146_000), (40, 134_000)))
    assert "above the peak: 36/s 146,000, 40/s 134,000; worst 0.83x, MISS" in line


def test_a_level_after_the_peak_passes() -> None:
    line = past_peak_line("affinity", steps((24, 144_000), (32, 161_000), (36, 158_000), (40, 150_000)))
    assert line.endswith("worst 0.93x, PASS")


def test_saturated_steps_before_the_peak_are_listed_not_judged() -> None:
    line = past_peak_line("spread", steps((20, 113_000), (24, 132_000), (40, 206_000), (48, 200_000)))
    assert "saturated before the peak (not judged): 20/s 113,000, 24/s 132,000" in line
    assert line.endswith("above the peak: 48/s 200,000; worst 0.97x, PASS")


def test_a_peak_at_the_last_rate_is_not_judged() -> None:
    line = past_peak_line("affinity", steps((20, 113_000), (40, 206_000)))
    assert line.endswith("no step above the peak's rate (add higher --rates): n/a")
    assert "PASS" not in line and "MISS" not in line


def test_the_nodes_count_is_shown_against_its_own_peak_and_is_no_target() -> None:
    res = steps((24, 144_000), (32, 161_000), (40, 134_000))
    for step, sent in zip(res["steps"], (145_000, 170_000, 168_300), strict=True):
        step["server_sent_per_s"] = sent
    line = nodes_count_line("affinity", res)
    assert line == (
        "as the nodes count them (affinity): peak 170,000/s at 32/s; above the peak: 40/s 168,300; "
        "worst 0.99x (not a target)"
    )
    assert nodes_count_line("spread", steps((24, 1.0))) == "as the nodes count them (spread): not measured"
