"""The replay timeline: speed, idle stretches compressed to 1 s, the 3-minute cap whatever the speed."""

from __future__ import annotations

import itertools

import pytest

from media.video.replay_model import Idle
from media.video.replay_plan import FPS, HOLD_SECONDS, IDLE_SECONDS, MAX_SECONDS, plan_replay

HOUR = 3_600_000


def test_active_time_plays_at_the_speed_and_idle_stretches_in_one_second() -> None:
    plan = plan_replay(80_000, (Idle(20_000, 60_000),), 8)
    assert plan.play_seconds == pytest.approx(20 / 8 + IDLE_SECONDS + 20 / 8)
    assert plan.duration == pytest.approx(plan.play_seconds + HOLD_SECONDS, abs=1 / FPS)
    assert plan.video_time(20_000) == pytest.approx(2.5)
    assert plan.video_time(40_000) == pytest.approx(3.0)  # halfway through the idle stretch
    assert plan.video_time(60_000) == pytest.approx(3.5)
    assert plan.session_time(3.5) == 60_000


@pytest.mark.parametrize("speed", [1, 8, 64])
@pytest.mark.parametrize("idle_count", [0, 10, 400])
def test_no_video_is_longer_than_three_minutes(speed: float, idle_count: int) -> None:
    duration = 3 * HOUR
    idle = tuple(Idle(i * 20_000 + 5_000, i * 20_000 + 16_000) for i in range(idle_count))
    plan = plan_replay(duration, idle, speed)
    assert plan.duration <= MAX_SECONDS
    times = plan.frame_times()
    assert len(times) == plan.total_frames
    assert times[0] == 0 and times[-1] == duration
    assert all(later >= earlier for earlier, later in itertools.pairwise(times))
    assert times[-round(HOLD_SECONDS * FPS) :] == [duration] * round(HOLD_SECONDS * FPS)


def test_an_hour_at_speed_8_is_capped_and_keeps_the_idle_share_proportional() -> None:
    plan = plan_replay(HOUR, (Idle(0, 600_000),), 8)  # natural: 1 s + 3000 s / 8 = 376 s
    assert plan.play_seconds == pytest.approx(MAX_SECONDS - HOLD_SECONDS)
    idle, active = plan.stretches
    assert idle.idle and (idle.end - idle.start) == pytest.approx(IDLE_SECONDS * 178 / 376)
    assert not active.idle


def test_a_session_without_time_is_the_held_final_state() -> None:
    plan = plan_replay(0, (), 8)
    assert plan.play_frames == 0
    assert plan.frame_times() == [0] * round(HOLD_SECONDS * FPS)


def test_overlapping_or_out_of_range_idle_stretches_are_merged_and_clipped() -> None:
    plan = plan_replay(60_000, (Idle(30_000, 50_000), Idle(10_000, 35_000), Idle(55_000, 90_000)), 4)
    assert [(s.from_ms, s.to_ms, s.idle) for s in plan.stretches] == [
        (0, 10_000, False),
        (10_000, 50_000, True),
        (50_000, 55_000, False),
        (55_000, 60_000, True),
    ]


@pytest.mark.parametrize("speed", [0, 0.5, 65])
def test_a_speed_out_of_range_is_refused(speed: float) -> None:
    with pytest.raises(ValueError, match="speed"):
        plan_replay(60_000, (), speed)
