"""Vectors for the Kotlin Yjs core (mobile/sdk), made by pycrdt (the server's CRDT).

    .venv/bin/python mobile/tools/pycrdt_vectors.py generate OUT.json   random concurrent sessions (seeded)
    .venv/bin/python mobile/tools/pycrdt_vectors.py check IN.json       apply someone else's updates, print texts

The twin of tests/js/kotlin_vectors.mjs (same session shape and JSON): 2-4 clients edit a Y.Map "files" of
Y.Text and a top-level Y.Text "text" with non-ASCII text and emoji, exchanging updates late and partially.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

from pycrdt import Doc, Map, Text

PIECES = ["a", "b", "xyz", " ", "\n", "def f():\n", "é", "ção", "中文", "😀", "👍🏽", "naïve ", "\t", "🇧🇷"]
PATHS = ["main.py", "README.md", "src/calc.py", "tests/test_calc.py"]


def _texts(doc: Doc) -> dict[str, Any]:
    files = doc.get("files", type=Map)
    out = {key: (str(files[key]) if isinstance(files[key], Text) else None) for key in sorted(files.keys())}
    return {"files": out, "text": str(doc.get("text", type=Text))}


class _Client:
    def __init__(self, client_id: int, sink: list[bytes]) -> None:
        self.doc = Doc(client_id=client_id)
        self.inbox: list[bytes] = []
        self.remote = False
        self.made = sink
        self.doc.observe(self._on_update)

    def _on_update(self, event: Any) -> None:
        if not self.remote:
            self.made.append(bytes(event.update))

    def receive(self, update: bytes) -> None:
        self.remote = True
        try:
            self.doc.apply_update(update)
        finally:
            self.remote = False


def _utf8(s: str, index: int) -> int:
    """pycrdt indexes text in UTF-8 bytes: the byte offset of code point [index]."""
    return len(s[:index].encode("utf-8"))


def _random_edit(text: Text, rnd: random.Random, max_delete: int) -> None:
    """Deletes a few code points or inserts a piece at a random code point (never inside a character)."""
    s = str(text)
    if s and rnd.random() < 0.4:
        index = rnd.randrange(len(s))
        end = index + 1 + rnd.randrange(min(max_delete, len(s) - index))
        del text[_utf8(s, index) : _utf8(s, end)]
    else:
        text.insert(_utf8(s, rnd.randrange(len(s) + 1)), rnd.choice(PIECES))


def _edit(client: _Client, rnd: random.Random) -> None:
    doc = client.doc
    roll = rnd.random()
    if roll < 0.15:
        _random_edit(doc.get("text", type=Text), rnd, 5)
        return
    files = doc.get("files", type=Map)
    path = rnd.choice(PATHS)
    if path not in files or roll < 0.2:
        files[path] = Text()
        return
    if roll < 0.23:
        del files[path]
        return
    file = files[path]
    with doc.transaction():
        for _ in range(1 + rnd.randrange(3)):
            _random_edit(file, rnd, 8)


def _session(seed: int) -> dict[str, Any]:
    rnd = random.Random(seed)  # noqa: S311 - reproducible test vectors, not secrets
    made: list[bytes] = []
    clients = [_Client(1 + rnd.randrange(0xFFFFFFFE), made) for _ in range(2 + rnd.randrange(3))]
    updates: list[bytes] = []

    def flush(author: int) -> None:
        for update in made:
            updates.append(update)
            for j, other in enumerate(clients):
                if j != author:
                    other.inbox.append(update)
        made.clear()

    def deliver(j: int, every: bool) -> None:
        inbox = clients[j].inbox
        n = len(inbox) if every else rnd.randrange(len(inbox) + 1)
        batch, clients[j].inbox = inbox[:n], inbox[n:]
        for update in batch:
            clients[j].receive(update)

    for _ in range(20 + rnd.randrange(40)):
        i = rnd.randrange(len(clients))
        for _ in range(1 + rnd.randrange(4)):
            _edit(clients[i], rnd)
            flush(i)
        if rnd.random() < 0.5:
            deliver(rnd.randrange(len(clients)), every=False)
    for _ in range(2):
        for j in range(len(clients)):
            deliver(j, every=True)
    expected = _texts(clients[0].doc)
    if any(_texts(c.doc) != expected for c in clients):
        raise SystemExit(f"seed {seed}: clients differ")
    merged = Doc()
    for update in updates:
        merged.apply_update(update)
    if _texts(merged) != expected:
        raise SystemExit(f"seed {seed}: merged differs")
    return {
        "seed": seed,
        "clients": [c.doc.client_id for c in clients],
        "updates": [u.hex() for u in updates],
        "state": merged.get_update().hex(),
        "stateVector": merged.get_state().hex(),
        **expected,
    }


def _check(data: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for session in data["sessions"]:
        by_updates = Doc()
        for update in session["updates"]:
            by_updates.apply_update(bytes.fromhex(update))
        by_state = Doc()
        by_state.apply_update(bytes.fromhex(session["state"]))
        out.append({"byUpdates": _texts(by_updates), "byState": _texts(by_state)})
    return out


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "generate":
        sessions = [_session(seed) for seed in range(1, 41)]
        doc = {"generator": "mobile/tools/pycrdt_vectors.py with the pycrdt of pyproject.toml", "sessions": sessions}
        Path(argv[2]).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return 0
    if len(argv) == 3 and argv[1] == "check":
        result = _check(json.loads(Path(argv[2]).read_text(encoding="utf-8")))
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        return 0
    sys.stderr.write("usage: pycrdt_vectors.py generate OUT.json | check IN.json\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
