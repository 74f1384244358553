"""What the report font cannot draw is replaced, never handed to reportlab."""

from __future__ import annotations

from media.reports.fonts import typeface


def test_portuguese_and_latin_extended_a_are_drawn_as_they_are() -> None:
    face = typeface()
    for text in ("São Paulo", "Integração", "ç ã õ é ü", "Łódź Ćwiczenia ŒUVRE", "Ελληνικά Кириллица"):
        assert face.drawable(text) == text


def test_missing_glyphs_become_a_question_mark() -> None:
    face = typeface()
    assert face.drawable("Foguete 🚀") == "Foguete ?"
    assert face.drawable("東京") == "??"
    assert face.drawable("👩\u200d💻 dev") == "?? dev"  # the joiner is invisible: dropped
    assert face.drawable("❤\ufe0f") == "?"  # so is the variation selector
    assert face.drawable("linha\nnova\x00") == "linha nova "


def test_decomposed_accents_are_composed_first() -> None:
    assert typeface().drawable("Sa\u0303o Paulo") == "São Paulo"
