"""A colour per programming language: GitHub linguist's for the common ones, a stable hash colour otherwise."""

from __future__ import annotations

import colorsys
import hashlib

RGB = tuple[int, int, int]

# GitHub linguist's colours (languages.yml) for the languages POCs declare most.
_LINGUIST: dict[str, str] = {
    "C": "#555555", "C#": "#178600", "C++": "#f34b7d", "Clojure": "#db5855", "CSS": "#663399",
    "Dart": "#00B4AB", "Elixir": "#6e4a7e", "Erlang": "#B83998", "F#": "#b845fc", "Go": "#00ADD8",
    "Groovy": "#4298b8", "Haskell": "#5e5086", "HTML": "#e34c26", "Java": "#b07219",
    "JavaScript": "#f1e05a", "Julia": "#a270ba", "Jupyter Notebook": "#DA5B0B", "Kotlin": "#A97BFF",
    "Lua": "#000080", "Objective-C": "#438eff", "OCaml": "#ef7a08", "Perl": "#0298c3", "PHP": "#4F5D95",
    "PowerShell": "#012456", "Python": "#3572A5", "R": "#198CE7", "Ruby": "#701516", "Rust": "#dea584",
    "Scala": "#c22d40", "Shell": "#89e051", "Solidity": "#AA6746", "SQL": "#e38c00", "Swift": "#F05138",
    "TypeScript": "#3178c6", "Vue": "#41b883", "Zig": "#ec915c",
}  # fmt: skip


def _hex(value: str) -> RGB:
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def language_color(language: str) -> RGB:
    """The language's linguist colour, or one derived from a hash of its name (the same on every run)."""
    known = _LINGUIST.get(language)
    if known is not None:
        return _hex(known)
    digest = hashlib.sha256(language.casefold().encode()).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536
    red, green, blue = colorsys.hls_to_rgb(hue, 0.55, 0.6)
    return round(red * 255), round(green * 255), round(blue * 255)


def readable_on(background: RGB) -> RGB:
    """Black or white, whichever reads better on `background` (relative luminance)."""
    red, green, blue = background
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return (20, 20, 28) if luminance > 140 else (255, 255, 255)
