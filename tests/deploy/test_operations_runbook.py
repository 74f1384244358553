"""docs/operations.md has one runbook entry per alarm the CDK app defines, and no entry for an alarm that
does not exist: each entry's heading is the alarm's name with `<service>` / `<node>` for the part that
varies, and each says what the alarm means and the first three things to check."""

from __future__ import annotations

import re
from pathlib import Path

from deploy.aws.config import DeployConfig
from deploy.aws.workers import WORKERS
from deploy.services import SERVICES
from tests.deploy.conftest import Synthesized

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
PLACEHOLDERS = {
    "<service>": "(?:" + "|".join(re.escape(n) for n in sorted([*SERVICES, *WORKERS, "turn"], key=len)) + ")",
    "<node>": r"[a-z0-9-]+-cache-[0-9]{3}",
}


def _entries() -> dict[str, str]:
    """Heading -> body of each runbook entry (the `### ` sections after `## Runbook`)."""
    text = RUNBOOK.read_text().split("\n## Runbook\n", 1)[1]
    sections = re.split(r"^### `([^`]+)`\n", text, flags=re.MULTILINE)[1:]
    return dict(zip(sections[::2], sections[1::2], strict=True))


def _pattern(heading: str) -> re.Pattern[str]:
    regex = re.escape(heading)
    for placeholder, part in PLACEHOLDERS.items():
        regex = regex.replace(re.escape(placeholder), part)
    return re.compile(regex)


def test_every_alarm_has_exactly_one_runbook_entry_and_every_entry_an_alarm(synthesized: Synthesized) -> None:
    prefix = f"{DeployConfig.name}-"
    alarms = [
        str(a["Properties"]["AlarmName"]).removeprefix(prefix)
        for a in synthesized.resources("AWS::CloudWatch::Alarm").values()
        if "AlarmName" in a["Properties"]  # the scaling policies' own alarms are unnamed
    ]
    entries = {heading: _pattern(heading) for heading in _entries()}
    assert alarms
    for alarm in alarms:
        matching = [h for h, pattern in entries.items() if pattern.fullmatch(alarm)]
        assert len(matching) == 1, (alarm, matching)
    for heading, pattern in entries.items():
        assert any(pattern.fullmatch(alarm) for alarm in alarms), f"{heading}: no such alarm"


def test_every_entry_says_what_it_means_and_three_things_to_check() -> None:
    for heading, body in _entries().items():
        meaning, _, steps = body.partition("\n1. ")
        assert meaning.strip(), heading
        assert re.search(r"^2\. ", steps, flags=re.MULTILINE), heading
        assert re.search(r"^3\. ", steps, flags=re.MULTILINE), heading
