"""The timeline and the period's POCs, without ffmpeg."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from media.video.plan import FPS, MAX_FRAMES, TRANSITION_FRAMES, plan_video
from media.video.spec import Period, select_pocs
from tests.media.video.conftest import END, poc, pocs


@pytest.mark.parametrize("count", [0, 1, 2, 19, 20, 21, 30, 500])
def test_a_video_never_lasts_more_than_60_seconds(count: int) -> None:
    plan = plan_video(pocs(count))
    assert plan.total_frames <= MAX_FRAMES
    assert plan.duration == plan.total_frames / FPS
    slots = plan.slots
    assert [slot.start for slot in slots[1:]] == [slot.end - TRANSITION_FRAMES for slot in slots[:-1]]
    kinds = [slot.kind for slot in slots]
    assert kinds[0] == "title" and kinds[-1] == "outro"


def test_twenty_pocs_fit_the_twenty_first_makes_an_and_more_card() -> None:
    twenty = plan_video(pocs(20))
    assert [slot.kind for slot in twenty.slots].count("poc") == 20
    assert "more" not in [slot.kind for slot in twenty.slots]
    assert twenty.duration == 59.0

    many = plan_video(pocs(21))
    kinds = [slot.kind for slot in many.slots]
    assert kinds == ["title", *["poc"] * 19, "more", "stats", "outro"]
    assert (many.shown, many.hidden) == (19, 2)
    assert many.duration <= 60


def test_the_most_recent_pocs_get_the_cards() -> None:
    rows = pocs(30)
    plan = plan_video(rows)
    shown = [slot.row for slot in plan.slots if slot.kind == "poc"]
    assert shown == rows[: plan.shown]
    assert [slot.position for slot in plan.slots if slot.kind == "poc"] == list(range(1, plan.shown + 1))


def test_no_pocs_make_a_short_video_that_says_so() -> None:
    plan = plan_video([])
    assert [slot.kind for slot in plan.slots] == ["title", "empty", "outro"]
    assert plan.duration == 9.0


def test_the_last_12_months_end_at_the_given_time_and_start_a_year_before() -> None:
    period = Period.last_12_months(END)
    assert period.start == END.replace(year=2025)
    inside = [poc(0, days_ago=0.001), poc(1, days_ago=364.9), poc(2, days_ago=200)]
    outside = [poc(3, days_ago=-0.001), poc(4, days_ago=365.1)]
    chosen = select_pocs([*outside, *inside], period)
    assert [row.id for row in chosen] == ["poc-0000", "poc-0002", "poc-0001"]  # most recent first


def test_a_leap_day_period_starts_on_february_28() -> None:
    end = datetime(2028, 2, 29, 12, tzinfo=UTC)
    assert Period.last_12_months(end).start == datetime(2027, 2, 28, 12, tzinfo=UTC)


def test_a_calendar_year_is_midnight_to_midnight_in_the_timezone() -> None:
    period = Period.calendar_year(2026, "America/Sao_Paulo")
    new_year_in_sao_paulo = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    rows = [
        replace(poc(0, days_ago=0), created_at=new_year_in_sao_paulo),
        replace(poc(1, days_ago=0), created_at=new_year_in_sao_paulo - timedelta(seconds=1)),
    ]
    assert [row.id for row in select_pocs(rows, period)] == ["poc-0000"]


def test_a_period_needs_aware_and_ordered_bounds() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Period.last_12_months(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="start before"):
        Period("year", END, END)
