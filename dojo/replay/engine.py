"""The replay engine: a dojo document's ordered history applied to a pycrdt ``Doc``, with blame.

Pure: no I/O, no clock. A :class:`Replayer` applies :class:`LoggedUpdate`\\ s (ordered by time, then
sequence) to its own ``Doc``. With ``blame=True`` it observes the ``files`` map deeply and keeps, per
file, *author runs*: the file's text cut into pieces, each with the user whose update inserted it.
Each applied update yields the :class:`Edit`\\ s it made (file, characters inserted and deleted).

Units. pycrdt reports text deltas in UTF-8 bytes (its ``Text`` indexes bytes), so runs are kept as
UTF-8 ``bytes``; everything that leaves the engine is counted in UTF-16 code units (the contract's
unit, as Yjs and Kotlin count). Replaying a client's encoded updates is what ARCHITECTURE §3 asks
(never position-based edits), and the text the runs spell is checked against ``str(Text)`` by tests.

A checkpoint (:meth:`Replayer.checkpoint`, :meth:`Replayer.from_checkpoint`) is the document as one
update plus the runs as JSON-ready lists, so any instant rebuilds from it and a few updates.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pycrdt import Doc, Map, MapEvent, Text, TextEvent

from crdt import UpdateRejected
from crdt.engine import engine_errors

__all__ = [
    "FILES_ROOT",
    "Burst",
    "Checkpoint",
    "Edit",
    "FileDiff",
    "LoggedUpdate",
    "Replayer",
    "Run",
    "bursts",
    "diff_files",
    "idle_stretches",
    "utf16_len",
]

FILES_ROOT = "files"
"""The dojo document's layout: a Y.Map named ``files``, path → Y.Text."""


def utf16_len(text: str) -> int:
    """The length of ``text`` in UTF-16 code units (as Yjs and Kotlin count)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


@dataclass(frozen=True, slots=True)
class LoggedUpdate:
    """One recorded update: accepted at ``at`` (server time) from ``user_id`` (None: no author)."""

    seq: int
    at: datetime
    user_id: str | None
    update: bytes


@dataclass(frozen=True, slots=True)
class Edit:
    """What one update did to one file (UTF-16 code units)."""

    seq: int
    at: datetime
    user_id: str | None
    file: str
    inserted: int
    deleted: int


@dataclass(frozen=True, slots=True)
class Run:
    """A piece of a file's text and who inserted it."""

    text: str
    user_id: str | None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The document at an instant: ``state`` (one Yjs update) and the author runs of every file,
    ``{path: [[length in UTF-8 bytes, user_id|None], ...]}``."""

    state: bytes
    blame: dict[str, list[list[Any]]]


@dataclass(slots=True)
class _Runs:
    """One file's author runs as parallel lists (UTF-8 bytes, author)."""

    pieces: list[bytes] = field(default_factory=list)
    authors: list[str | None] = field(default_factory=list)

    def insert(self, pos: int, data: bytes, author: str | None) -> None:
        if not data:
            return
        i, offset = self._locate(pos)
        pieces, authors = self.pieces, self.authors
        if offset:  # inside piece i: split it
            piece = pieces[i]
            pieces[i : i + 1] = [piece[:offset], piece[offset:]]
            authors.insert(i, authors[i])
            i += 1
        if i > 0 and authors[i - 1] == author:
            pieces[i - 1] += data
        elif i < len(pieces) and authors[i] == author:
            pieces[i] = data + pieces[i]
        else:
            pieces.insert(i, data)
            authors.insert(i, author)

    def delete(self, pos: int, length: int) -> bytes:
        """Remove ``length`` bytes at ``pos``; returns them."""
        removed = bytearray()
        i, offset = self._locate(pos)
        pieces, authors = self.pieces, self.authors
        while length > 0 and i < len(pieces):
            piece = pieces[i]
            take = min(length, len(piece) - offset)
            removed += piece[offset : offset + take]
            rest = piece[:offset] + piece[offset + take :]
            length -= take
            if rest:
                pieces[i] = rest
                i += 1
            else:
                del pieces[i]
                del authors[i]
            offset = 0
        # Removing pieces may leave two pieces of one author side by side: merge them.
        if 0 < i < len(pieces) and authors[i - 1] == authors[i]:
            pieces[i - 1 : i + 1] = [pieces[i - 1] + pieces[i]]
            del authors[i]
        return bytes(removed)

    def _locate(self, pos: int) -> tuple[int, int]:
        """(piece index, byte offset inside it) of byte position ``pos`` (offset 0 = before the piece)."""
        for i, piece in enumerate(self.pieces):
            if pos < len(piece):
                return i, pos
            pos -= len(piece)
        return len(self.pieces), 0

    def runs(self) -> list[Run]:
        return [Run(p.decode("utf-8"), a) for p, a in zip(self.pieces, self.authors, strict=True)]


class Replayer:
    """A document rebuilt from its history; ``blame`` keeps author runs (costs an observer per update)."""

    def __init__(self, *, blame: bool = True) -> None:
        self._doc: Doc[Any] = Doc()
        self._files = self._doc.get(FILES_ROOT, type=Map)
        self._track = blame
        self._runs: dict[str, _Runs] = {}
        self._current: LoggedUpdate | None = None
        self._edits: list[Edit] = []
        self.applied = 0
        if blame:
            self._files.observe_deep(self._observe)

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint, *, blame: bool = True) -> Replayer:
        """A replayer holding ``checkpoint``'s document and runs."""
        replayer = cls(blame=False)
        with engine_errors("the checkpoint's state is not a Yjs update"):
            replayer._doc.apply_update(checkpoint.state)
        if blame:
            texts = replayer._texts_bytes()
            for path, runs in checkpoint.blame.items():
                data = texts.get(path, b"")
                pieces, authors, pos = [], [], 0
                for length, author in runs:
                    pieces.append(data[pos : pos + int(length)])
                    authors.append(None if author is None else str(author))
                    pos += int(length)
                if pos != len(data):
                    raise UpdateRejected(f"checkpoint blame of {path!r} covers {pos} of {len(data)} bytes")
                replayer._runs[path] = _Runs(pieces, authors)
            replayer._track = True
            replayer._files.observe_deep(replayer._observe)
        return replayer

    # -- applying ------------------------------------------------------------------------------------------
    def apply(self, logged: LoggedUpdate) -> list[Edit]:
        """Apply one recorded update; the edits it made (empty without blame, or for a duplicate).
        Raises :class:`~crdt.errors.UpdateRejected` for bytes the engine refuses."""
        self._current = logged
        self._edits = []
        try:
            with engine_errors(f"history update {logged.seq}"):
                self._doc.apply_update(logged.update)
        finally:
            self._current = None
        self.applied += 1
        return self._edits

    def apply_all(self, updates: Iterable[LoggedUpdate]) -> list[Edit]:
        edits: list[Edit] = []
        for logged in updates:
            edits.extend(self.apply(logged))
        return edits

    def _observe(self, events: list[Any]) -> None:
        logged = self._current
        author = logged.user_id if logged is not None else None
        added: set[str] = set()
        event: Any  # pycrdt's event classes declare no attributes for mypy
        for raw in events:
            event = raw
            if isinstance(raw, MapEvent) and not event.path:
                for key, change in event.keys.items():
                    action = change.get("action")
                    if action in ("delete", "update") and key in self._runs:
                        old = self._runs.pop(key)
                        self._note(key, 0, utf16_len(b"".join(old.pieces).decode("utf-8")))
                    if action in ("add", "update"):
                        value = change.get("newValue")
                        if isinstance(value, Text):
                            text = str(value)
                            runs = self._runs[key] = _Runs()
                            runs.insert(0, text.encode("utf-8"), author)
                            self._note(key, utf16_len(text), 0)
                            added.add(key)
        for raw in events:
            event = raw
            if not isinstance(raw, TextEvent) or len(event.path) != 1:
                continue
            path = str(event.path[0])
            if path in added:
                continue  # created in this transaction: its whole content was taken above
            runs = self._runs.setdefault(path, _Runs())
            pos = inserted = deleted = 0
            for op in event.delta:
                if "retain" in op:
                    pos += int(op["retain"])
                elif "insert" in op:
                    value = op["insert"]
                    if isinstance(value, str):
                        data = value.encode("utf-8")
                        runs.insert(pos, data, author)
                        pos += len(data)
                        inserted += utf16_len(value)
                elif "delete" in op:
                    deleted += utf16_len(runs.delete(pos, int(op["delete"])).decode("utf-8", errors="replace"))
            self._note(path, inserted, deleted)

    def _note(self, path: str, inserted: int, deleted: int) -> None:
        logged = self._current
        if logged is None or not (inserted or deleted):
            return
        self._edits.append(Edit(logged.seq, logged.at, logged.user_id, path, inserted, deleted))

    # -- reading -------------------------------------------------------------------------------------------
    def _texts_bytes(self) -> dict[str, bytes]:
        return {path: str(value).encode("utf-8") for path, value in self._files.items() if isinstance(value, Text)}

    def texts(self) -> dict[str, str]:
        """Every file's text, sorted by path."""
        return {path: str(value) for path, value in sorted(self._files.items()) if isinstance(value, Text)}

    def runs(self) -> dict[str, list[Run]]:
        """Every file's author runs, sorted by path (needs ``blame``)."""
        if not self._track:
            raise ValueError("this replayer does not keep blame")
        texts = self.texts()
        return {path: self._runs[path].runs() if path in self._runs else [] for path in texts}

    def blame_ranges(self) -> dict[str, tuple[int, list[tuple[int, int, str | None]]]]:
        """Per file: (length, [(start, end, user_id)]) in UTF-16 code units, covering the text."""
        out: dict[str, tuple[int, list[tuple[int, int, str | None]]]] = {}
        for path, runs in self.runs().items():
            ranges: list[tuple[int, int, str | None]] = []
            pos = 0
            for run in runs:
                end = pos + utf16_len(run.text)
                if ranges and ranges[-1][2] == run.user_id:
                    ranges[-1] = (ranges[-1][0], end, run.user_id)
                else:
                    ranges.append((pos, end, run.user_id))
                pos = end
            out[path] = (pos, ranges)
        return out

    def checkpoint(self) -> Checkpoint:
        blame = {
            path: [[len(p), a] for p, a in zip(runs.pieces, runs.authors, strict=True)]
            for path, runs in self._runs.items()
        }
        return Checkpoint(self._doc.get_update(), blame)


# -- timeline -----------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Burst:
    """One author's consecutive edits in one file with gaps under the burst gap, coalesced."""

    start: datetime
    end: datetime
    user_id: str | None
    file: str
    inserted: int
    deleted: int


def bursts(edits: Iterable[Edit], gap_seconds: float = 2.0) -> list[Burst]:
    """Coalesce ``edits`` (in time order): an author's edit joins their latest burst when it is in the
    same file and follows it by less than ``gap_seconds``."""
    out: list[Burst] = []
    latest: dict[str | None, Burst] = {}
    for edit in edits:
        burst = latest.get(edit.user_id)
        if burst is not None and burst.file == edit.file and (edit.at - burst.end).total_seconds() < gap_seconds:
            burst.end = edit.at
            burst.inserted += edit.inserted
            burst.deleted += edit.deleted
            continue
        burst = Burst(edit.at, edit.at, edit.user_id, edit.file, edit.inserted, edit.deleted)
        latest[edit.user_id] = burst
        out.append(burst)
    return out


def idle_stretches(
    instants: Sequence[datetime], start: datetime, end: datetime, min_seconds: float = 10.0
) -> Iterator[tuple[datetime, datetime]]:
    """The stretches of at least ``min_seconds`` between ``start``, each instant (sorted) and ``end``."""
    previous = start
    for instant in (*instants, end):
        if (instant - previous).total_seconds() >= min_seconds:
            yield previous, instant
        previous = max(previous, instant)


# -- diff -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FileDiff:
    path: str
    status: str  # "added" | "removed" | "modified"
    unified: str
    inserted_lines: int
    deleted_lines: int


def diff_files(before: dict[str, str], after: dict[str, str], *, context: int = 3) -> list[FileDiff]:
    """Per file that differs: a unified diff (``difflib``, ``context`` lines), sorted by path."""
    out: list[FileDiff] = []
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        status = "added" if old is None else "removed" if new is None else "modified"
        lines = list(
            difflib.unified_diff(
                (old or "").splitlines(keepends=True),
                (new or "").splitlines(keepends=True),
                fromfile="/dev/null" if old is None else f"a/{path}",
                tofile="/dev/null" if new is None else f"b/{path}",
                n=context,
            )
        )
        body = [line for line in lines[2:] if not line.startswith("@@")]  # after the ---/+++ header
        inserted = sum(1 for line in body if line.startswith("+"))
        deleted = sum(1 for line in body if line.startswith("-"))
        unified = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
        out.append(FileDiff(path, status, unified, inserted, deleted))
    return out
