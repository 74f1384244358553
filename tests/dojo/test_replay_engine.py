"""The replay engine alone (pure): author runs from real Yjs updates of several documents, UTF-16
offsets with emoji and accents, deletions across authors, checkpoints, bursts, idle stretches, diffs,
and the API's instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pycrdt import Doc, Map, Text

from dojo.replay.engine import LoggedUpdate, Replayer, bursts, diff_files, idle_stretches
from dojo.replay.times import format_at, parse_instant
from runtime.errors import ValidationFailed

T0 = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


class Writer:
    """One user's document; each edit becomes a logged update (as the recorder stores them)."""

    def __init__(self, user: str, client_id: int, log: list[LoggedUpdate]) -> None:
        self.user, self.log = user, log
        self.doc: Doc[Any] = Doc(client_id=client_id)

    def sync_from(self, other: Writer) -> None:
        self.doc.apply_update(other.doc.get_update(self.doc.get_state()))

    def edit(self, change: Any) -> None:
        before = self.doc.get_state()
        change(self.doc.get("files", type=Map))
        n = len(self.log)
        self.log.append(LoggedUpdate(n + 1, T0 + timedelta(seconds=n), self.user, self.doc.get_update(before)))


def _insert(path: str, index_chars: int, text: str) -> Any:
    def change(files: Any) -> None:
        current = str(files[path])
        files[path].insert(len(current[:index_chars].encode()), text)  # pycrdt indexes UTF-8 bytes

    return change


def _delete(path: str, start_chars: int, end_chars: int) -> Any:
    def change(files: Any) -> None:
        current = str(files[path])
        del files[path][len(current[:start_chars].encode()) : len(current[:end_chars].encode())]

    return change


def _session() -> tuple[list[LoggedUpdate], Writer, Writer]:
    log: list[LoggedUpdate] = []
    ana, bia = Writer("ana", 1, log), Writer("bia", 2, log)
    ana.edit(lambda files: files.__setitem__("k.py", Text("olá 😀\n")))
    bia.sync_from(ana)
    bia.edit(_insert("k.py", 4, "🎳é"))  # inside ana's text
    ana.edit(_insert("k.py", 0, "# "))  # concurrent with bia's
    ana.sync_from(bia)
    bia.sync_from(ana)
    bia.edit(_delete("k.py", 3, 8))  # "lá 🎳é": across ana's and bia's runs
    return log, ana, bia


def test_runs_follow_every_author_through_concurrency_and_deletions() -> None:
    log, _, bia = _session()
    replayer = Replayer()
    edits = replayer.apply_all(log)
    text = str(bia.doc.get("files", type=Map)["k.py"])
    assert replayer.texts() == {"k.py": text} == {"k.py": "# o😀\n"}
    # bia's run went with the deletion: ana's pieces on both sides are one run again.
    assert [(r.text, r.user_id) for r in replayer.runs()["k.py"]] == [("# o😀\n", "ana")]
    assert [(e.user_id, e.inserted, e.deleted) for e in edits] == [
        ("ana", 7, 0),
        ("bia", 3, 0),
        ("ana", 2, 0),
        ("bia", 0, 6),
    ]
    # Before the deletion: ranges in UTF-16 units, split around bia's "🎳é".
    before = Replayer()
    before.apply_all(log[:3])
    assert before.texts()["k.py"] == "# olá 🎳é😀\n"
    length, ranges = before.blame_ranges()["k.py"]
    assert length == 12
    assert ranges == [(0, 6, "ana"), (6, 9, "bia"), (9, 12, "ana")]


def test_a_checkpoint_resumes_with_the_same_runs() -> None:
    log, _, _ = _session()
    whole = Replayer()
    whole.apply_all(log)
    head = Replayer()
    head.apply_all(log[:3])
    resumed = Replayer.from_checkpoint(head.checkpoint())
    resumed.apply_all(log[3:])
    assert resumed.runs() == whole.runs() and resumed.texts() == whole.texts()
    fast = Replayer.from_checkpoint(head.checkpoint(), blame=False)
    fast.apply_all(log[3:])
    assert fast.texts() == whole.texts()


def test_bursts_and_idle_stretches() -> None:
    log, _, _ = _session()
    replayer = Replayer()
    edits = replayer.apply_all(log)
    spread = [
        e.__class__(e.seq, T0 + timedelta(seconds=s), e.user_id, e.file, e.inserted, e.deleted)
        for e, s in zip(edits, (0, 1, 1.5, 30), strict=True)
    ]
    coalesced = bursts(spread, 2.0)
    assert [(b.user_id, b.inserted, b.deleted) for b in coalesced] == [("ana", 9, 0), ("bia", 3, 0), ("bia", 0, 6)]
    idle = list(idle_stretches([e.at for e in spread], T0 - timedelta(seconds=20), T0 + timedelta(seconds=35)))
    assert idle == [(T0 - timedelta(seconds=20), T0), (T0 + timedelta(seconds=1.5), T0 + timedelta(seconds=30))]


def test_diffs_per_file() -> None:
    diffs = diff_files({"a.py": "x\n--y\n", "gone.md": "bye"}, {"a.py": "x\n", "new.md": "hi\n"})
    assert [(d.path, d.status, d.inserted_lines, d.deleted_lines) for d in diffs] == [
        ("a.py", "modified", 0, 1),  # a deleted line that starts with "--" is still one deleted line
        ("gone.md", "removed", 0, 1),
        ("new.md", "added", 1, 0),
    ]
    assert diffs[1].unified.endswith("-bye\n\\ No newline at end of file\n")


def test_instants() -> None:
    start = T0 + timedelta(microseconds=123_456)
    assert parse_instant("+0", "at", start) == start + timedelta(microseconds=999)
    assert parse_instant(" 1500", "at", start) == start + timedelta(
        milliseconds=1500, microseconds=999
    )  # "+" as a space
    assert parse_instant(format_at(start), "at", start) == T0 + timedelta(microseconds=123_999)
    for bad in ("+x", "+-1", "yesterday", "2026-12-06T03:00:00", format_at(start - timedelta(milliseconds=1))):
        with pytest.raises(ValidationFailed):
            parse_instant(bad, "at", start)
