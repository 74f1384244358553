"""The README and docs/ point only at what is in the repository, and the README stays short."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PAGES = [
    README,
    *sorted((REPO / "docs").glob("*.md")),
    *sorted((REPO / "bench").glob("README*.md")),
    REPO / "mobile" / "README.md",
]

_LINK = re.compile(r"\]\(([^)\s]+)\)")
# A backticked repository path: a top-level folder of ours followed by a path ("bench/collab_load.py", "deploy/aws/").
_TOP = "|".join(
    sorted(p.name for p in REPO.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != "pocdojo.egg-info")
)
_PATH = re.compile(rf"`((?:{_TOP})/[\w./-]*)`")


def _links(page: Path) -> list[str]:
    return [m for m in _LINK.findall(page.read_text(encoding="utf-8")) if not re.match(r"(https?:|mailto:|#)", m)]


def test_every_relative_link_of_the_docs_resolves() -> None:
    broken = [
        f"{page.relative_to(REPO)} -> {link}"
        for page in PAGES
        for link in _links(page)
        if not (page.parent / link.split("#", 1)[0]).exists()
    ]
    assert broken == []


def test_every_path_the_readme_names_exists() -> None:
    named = _PATH.findall(README.read_text(encoding="utf-8"))
    assert named, "the pattern found no path in the README: it no longer tests anything"
    missing = [path for path in named if not (REPO / path.rstrip("/")).exists()]
    assert missing == []


def test_the_readme_is_read_in_five_minutes() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 200
