"""A synthetic dojo session for the replay renderer's tests: two authors (Ana in red, Bruno in blue) write
`main.py` one line each; Ana types for 20 s, nobody types for 20 s (an idle stretch), then Bruno types for
20 s; the drivers rotate at 0 and 40 s and Bruno says something in the chat at 30 s. `frames_for` gives
the frames the history API would answer for the asked instants."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from media.video.replay_model import (
    Author,
    ChatLine,
    FileRuns,
    Frame,
    Idle,
    ReplayHistory,
    ReplaySpec,
    Rotation,
    Run,
)

ANA, BRUNO = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
RED, BLUE = (225, 29, 72), (37, 99, 235)
ANA_LINE = "def hello():\n"
BRUNO_LINE = "    return 'world'\n"
CHAT = "vou escrever o return"
STARTED = datetime(2026, 12, 6, 13, 0, tzinfo=UTC)


def history(duration_ms: int = 60_000, idle: Sequence[Idle] = (Idle(20_000, 40_000),)) -> ReplayHistory:
    return ReplayHistory(
        dojo_id="33333333-3333-4333-8333-333333333333",
        started_at=STARTED,
        ended_at=STARTED,
        duration_ms=duration_ms,
        files=("main.py", "README.md"),
        authors=(Author(ANA, "Ana", RED), Author(BRUNO, "Bruno", BLUE)),
        rotations=(Rotation(0, ANA, BRUNO), Rotation(40_000, BRUNO, ANA)),
        chat=(ChatLine(30_000, BRUNO, CHAT),),
        idle=tuple(idle),
    )


def spec(**changes: object) -> ReplaySpec:
    values: dict[str, object] = {"title": "Kata FizzBuzz", "speed": 8, "resolution": "720p", "locale": "pt-BR"}
    values.update(changes)
    return ReplaySpec(**values)  # type: ignore[arg-type]


def frame(t_ms: int) -> Frame:
    ana = ANA_LINE[: min(len(ANA_LINE), t_ms * len(ANA_LINE) // 20_000)]
    bruno = BRUNO_LINE[: max(0, min(len(BRUNO_LINE), (t_ms - 40_000) * len(BRUNO_LINE) // 20_000))]
    runs = tuple(run for run in (Run(ana, ANA), Run(bruno, BRUNO)) if run.text)
    readme = (Run("# Kata\n", None),)
    return Frame(t_ms, ANA if t_ms < 40_000 else BRUNO, (FileRuns("main.py", runs), FileRuns("README.md", readme)))


def frames_for(instants: Sequence[int]) -> Iterator[Frame]:
    for t_ms in instants:
        yield frame(t_ms)
