"""The reports' typeface, and text made drawable with it.

The PDF embeds Adobe's Source Sans Pro (SIL OFL 1.1), the TrueType files that the
`font-source-sans-pro` package ships. It covers Latin-1 and Latin Extended-A (all of Portuguese:
"São Paulo", "Integração"), Greek and Cyrillic. reportlab's own TrueType fonts (Bitstream Vera) lack
most of Latin Extended-A, and reportlab bundles no DejaVu.

A character the font has no glyph for (an emoji, CJK, a private-use code point) is never handed to
reportlab: `drawable` replaces it with "?" (U+FFFD is not in the font either), after NFC normalization
(so a decomposed "a" + U+0303 becomes the font's "ã"). Invisible format characters (zero-width joiners,
variation selectors, combining marks the font lacks) are dropped rather than shown as "?", and control
characters become spaces. So "🚀 Rocket" is drawn "? Rocket", and a family emoji (several code points
joined by U+200D) becomes "???" without its joiners.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from importlib import resources

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from media.errors import RenderError

REGULAR = "PocDojoSans"
BOLD = "PocDojoSans-Bold"
REPLACEMENT = "?"
_FILES = {REGULAR: "SourceSansPro-Regular.ttf", BOLD: "SourceSansPro-Bold.ttf"}
_DROPPED_CATEGORIES = frozenset({"Cf", "Mn", "Me"})


@dataclass(frozen=True, slots=True)
class Typeface:
    """The registered font names and the code points both faces can draw."""

    regular: str
    bold: str
    codepoints: frozenset[int]

    def drawable(self, text: str) -> str:
        """`text` with every character the font lacks replaced (see the module doc)."""
        text = unicodedata.normalize("NFC", text)
        if all(ord(char) in self.codepoints for char in text):
            return text
        out: list[str] = []
        for char in text:
            if ord(char) in self.codepoints:
                out.append(char)
                continue
            category = unicodedata.category(char)
            if category in _DROPPED_CATEGORIES:
                continue
            out.append(" " if category == "Cc" else REPLACEMENT)
        return "".join(out)


_lock = threading.Lock()
_typeface: Typeface | None = None


def typeface() -> Typeface:
    """The reports' typeface, registered with reportlab on first use (once per process, thread-safe)."""
    global _typeface
    with _lock:
        if _typeface is None:
            _typeface = _register()
        return _typeface


def _register() -> Typeface:
    folder = resources.files("font_source_sans_pro") / "files"
    codepoints: set[int] | None = None
    for name, filename in _FILES.items():
        try:
            with resources.as_file(folder / filename) as path:
                font = TTFont(name, str(path))
        except (OSError, ValueError) as exc:
            raise RenderError(f"the report font {filename} cannot be read: {exc}") from exc
        pdfmetrics.registerFont(font)
        faces = set(font.face.charToGlyph)
        codepoints = faces if codepoints is None else codepoints & faces
    pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD)
    return Typeface(REGULAR, BOLD, frozenset(codepoints or ()))
