"""The programming languages a POC or a dojo may declare, matched case-insensitively with close-match hints.

The list is curated by hand (names as GitHub shows them: "C#", "Jupyter Notebook", "Objective-C"),
plus a few aliases people type ("golang", "js", "c++" spelled "cpp"). `resolve` returns the canonical
name or raises `UnknownLanguage` carrying the closest known names; `check_language` turns that into the
field error both services answer with.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable

from runtime.errors import FieldError

__all__ = ["LANGUAGES", "UnknownLanguage", "check_language", "close_matches", "resolve"]

LANGUAGES: tuple[str, ...] = (
    "1C Enterprise", "ABAP", "ActionScript", "Ada", "Agda", "AL", "Alloy", "AMPL", "AngelScript", "ANTLR",
    "Apex", "APL", "AppleScript", "Arc", "Arduino", "AspectJ", "Assembly", "Astro", "ATS", "AutoHotkey",
    "AutoIt", "Awk", "Ballerina", "BASIC", "Batchfile", "Beef", "Bicep", "Bluespec", "Boo", "Brainfuck",
    "BrighterScript", "BrightScript", "C", "C#", "C++", "C3", "Cadence", "Cairo", "Carbon", "Ceylon",
    "Chapel", "Cirru", "Clarion", "Clean", "Clojure", "CMake", "COBOL", "CodeQL", "CoffeeScript",
    "ColdFusion", "Common Lisp", "Component Pascal", "Coq", "Crystal", "CUDA", "Cuda C++", "Cython", "D",
    "Dafny", "Dart", "DataWeave", "Delphi", "Dhall", "DM", "Dockerfile", "Dylan", "E", "eC", "Eiffel",
    "Elixir", "Elm", "Emacs Lisp", "EmberScript", "Erlang", "Euphoria", "F#", "F*", "Factor", "Fancy",
    "Fantom", "Faust", "Fennel", "Fish", "Forth", "Fortran", "FreeBASIC", "FreeMarker", "Frege", "Futhark",
    "G-code", "GAMS", "GAP", "GDScript", "Genie", "Gherkin", "Gleam", "GLSL", "Gnuplot", "Go", "Golo",
    "Gosu", "Grace", "Groovy", "Hack", "Haml", "Handlebars", "Harbour", "Haskell", "Haxe", "HCL", "HiveQL",
    "HLSL", "HolyC", "HTML", "Hy", "IDL", "Idris", "Imba", "Inform 7", "Ink", "Io", "Ioke", "Isabelle",
    "J", "Janet", "Jasmin", "Java", "JavaScript", "Jinja", "Jolie", "jq", "JSONiq", "Jsonnet", "Julia",
    "Jupyter Notebook", "Kotlin", "KRL", "LabVIEW", "Lasso", "Lean", "Less", "Lex", "LilyPond", "Limbo",
    "Liquid", "LiveScript", "LLVM", "LOLCODE", "LookML", "LSL", "Lua", "Luau", "M", "M4", "Makefile",
    "Mako", "MATLAB", "Max", "MAXScript", "Mercury", "Mermaid", "Meson", "Metal", "MiniZinc", "Mint",
    "Mirah", "Modelica", "Modula-2", "Modula-3", "Mojo", "Monkey", "Moocode", "MoonScript", "Motoko",
    "MQL4", "MQL5", "MTML", "mupad", "Mustache", "NASL", "NCL", "Nearley", "Nemerle", "NetLogo", "Nextflow",
    "Nginx", "Nim", "Nit", "Nix", "NSIS", "Nu", "Nushell", "Oberon", "Objective-C", "Objective-C++",
    "Objective-J", "OCaml", "Odin", "Omgrofl", "ooc", "Opa", "OpenCL", "OpenEdge ABL", "OpenSCAD", "Org",
    "Oxygene", "Oz", "P4", "Pan", "Papyrus", "Parrot", "Pascal", "Pawn", "PEG.js", "Perl", "PHP", "PicoLisp",
    "Pike", "PLpgSQL", "PLSQL", "Pony", "PostScript", "PowerBuilder", "PowerShell", "Prisma", "Processing",
    "Prolog", "Promela", "Protocol Buffer", "Pug", "Puppet", "PureBasic", "PureScript", "Python", "Q#",
    "QML", "QMake", "R", "Racket", "Ragel", "Raku", "Rascal", "ReasonML", "Rebol", "Red", "Rego", "Ren'Py",
    "ReScript", "REXX", "Ring", "Riot", "RobotFramework", "Roc", "Ruby", "Rust", "SAS", "Sass", "Scala",
    "Scheme", "Scilab", "SCSS", "sed", "Self", "ShaderLab", "Shell", "Sieve", "Slash", "Slim", "Smali",
    "Smalltalk", "Smarty", "Solidity", "SourcePawn", "SQF", "SQL", "Squirrel", "Stan", "Standard ML",
    "Starlark", "Stata", "Stylus", "SuperCollider", "Svelte", "Swift", "SWIG", "SystemVerilog", "Tcl",
    "Terra", "TeX", "Thrift", "TLA+", "TSQL", "Turing", "Twig", "TypeScript", "Typst", "Unity3D Asset",
    "UnrealScript", "V", "Vala", "VBA", "VBScript", "VCL", "Verilog", "VHDL", "Vim Script", "Visual Basic",
    "Visual Basic .NET", "Volt", "Vue", "Vyper", "WebAssembly", "WGSL", "Whiley", "Wollok", "Wren", "X10",
    "xBase", "XC", "XQuery", "XSLT", "Xtend", "Yacc", "YARA", "Zeek", "ZenScript", "Zig", "ZIL",
)  # fmt: skip

# What people type for a language whose name they spell differently.
ALIASES: dict[str, str] = {
    "golang": "Go",
    "js": "JavaScript",
    "node": "JavaScript",
    "nodejs": "JavaScript",
    "node.js": "JavaScript",
    "ts": "TypeScript",
    "py": "Python",
    "python3": "Python",
    "cpp": "C++",
    "c plus plus": "C++",
    "csharp": "C#",
    "c sharp": "C#",
    "fsharp": "F#",
    "f sharp": "F#",
    "objc": "Objective-C",
    "objective c": "Objective-C",
    "vb.net": "Visual Basic .NET",
    "vbnet": "Visual Basic .NET",
    "bash": "Shell",
    "sh": "Shell",
    "zsh": "Shell",
    "terraform": "HCL",
    "jupyter": "Jupyter Notebook",
    "ipynb": "Jupyter Notebook",
    "plpgsql": "PLpgSQL",
    "pl/pgsql": "PLpgSQL",
    "pl/sql": "PLSQL",
    "t-sql": "TSQL",
    "elisp": "Emacs Lisp",
    "vimscript": "Vim Script",
    "viml": "Vim Script",
    "wasm": "WebAssembly",
    "rb": "Ruby",
    "rs": "Rust",
    "kt": "Kotlin",
    "perl 6": "Raku",
    "sml": "Standard ML",
    "reason": "ReasonML",
    "protobuf": "Protocol Buffer",
    "docker": "Dockerfile",
    "make": "Makefile",
}

_BY_FOLDED: dict[str, str] = {name.casefold(): name for name in LANGUAGES}
_BY_FOLDED.update({alias.casefold(): name for alias, name in ALIASES.items()})
# Suggestions are drawn from the canonical names only (aliases are shortcuts, not names to show).
_CANONICAL_FOLDED: dict[str, str] = {name.casefold(): name for name in LANGUAGES}


class UnknownLanguage(ValueError):
    """The value names no known language; `suggestions` holds the closest canonical names."""

    def __init__(self, value: str, suggestions: list[str]) -> None:
        super().__init__(value)
        self.value = value
        self.suggestions = suggestions


def _key(value: str) -> str:
    return " ".join(value.split()).casefold()


def close_matches(value: str, limit: int = 3) -> list[str]:
    """Up to `limit` canonical names closest to `value` (difflib ratio ≥ 0.6), best first."""
    key = _key(value)
    found = difflib.get_close_matches(key, _CANONICAL_FOLDED.keys(), n=limit, cutoff=0.6)
    if not found:
        alias_hits = difflib.get_close_matches(key, _BY_FOLDED.keys(), n=limit, cutoff=0.75)
        found = [_BY_FOLDED[a].casefold() for a in alias_hits]
    return list(dict.fromkeys(_CANONICAL_FOLDED[f] for f in found))[:limit]


def resolve(value: str) -> str:
    """The canonical name of `value` (case and surrounding spaces ignored, aliases accepted)."""
    name = _BY_FOLDED.get(_key(value))
    if name is None:
        raise UnknownLanguage(value, close_matches(value))
    return name


def known(names: Iterable[str]) -> bool:
    """True if every name is a canonical language name (used by tests and the seed script)."""
    return all(name in _CANONICAL_FOLDED.values() for name in names)


def _clip(value: str, limit: int = 60) -> str:
    """A value safe to quote back in a message: bounded, control characters made visible."""
    shown = value if len(value) <= limit else value[: limit - 1] + "…"
    control = any(unicodedata.category(ch) in ("Cc", "Cs") for ch in shown)
    return shown.encode("unicode_escape").decode("ascii") if control else shown


def check_language(value: str, field: str = "language") -> tuple[str, list[FieldError]]:
    """The canonical name of a known language, or an `unknown_language` error with close matches."""
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value) or len(value) > 64:
        return value, [FieldError(field, "unknown_language", f"'{_clip(value)}' is not a known programming language")]
    try:
        return resolve(value), []
    except UnknownLanguage as exc:
        if not value.strip():
            return value, [FieldError(field, "blank", "must name a programming language, e.g. Python")]
        if exc.suggestions:
            hint = ", ".join(exc.suggestions[:-1]) + (" or " if len(exc.suggestions) > 1 else "") + exc.suggestions[-1]
            message = f"'{_clip(value)}' is not a known programming language; did you mean {hint}?"
        else:
            message = (
                f"'{_clip(value)}' is not a known programming language "
                "(names as GitHub shows them, e.g. Python, TypeScript, C#, Jupyter Notebook)"
            )
        return value, [FieldError(field, "unknown_language", message)]
