"""Text every service accepts from clients: storable, and for identifiers one canonical form.

- Storable text: no NUL (PostgreSQL's `text` cannot hold it) and no unpaired surrogate (not UTF-8);
  JSON and percent-encoding can carry both. `StorableText` is the pydantic type for any free text.
- Names (tenant names, titles): storable, and no control or format characters: bidi overrides
  (U+202A-202E, U+2066-2069) and zero-width characters (U+200B-200D, U+2060, U+FEFF) would let a name
  look like another one.
- Identifiers (e-mail addresses, slugs): NFKC, then lower case, and no control, format or space
  character left, so that `ｍ1@acme.test` is `m1@acme.test` and `m1@acme.test\u200b` is refused rather
  than stored beside it.

Each check raises `ValueError` with a message for the client; pydantic reports it as a field error.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

_REFUSED_IN_NAMES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
"""Control, format (bidi controls, zero-width), surrogate, private-use and unassigned characters."""


def storable(value: str) -> str:
    """`value` if PostgreSQL can store it, else ValueError."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode (it has an unpaired surrogate)") from exc
    return value


def name(value: str) -> str:
    """A display name: storable, with no invisible or direction-changing character."""
    storable(value)
    for char in value:
        if unicodedata.category(char) in _REFUSED_IN_NAMES:
            raise ValueError(f"must not contain invisible or control characters (U+{ord(char):04X})")
    return value


def identifier(value: str) -> str:
    """The canonical form of an e-mail address or slug: trimmed, NFKC, lower case; ValueError when an
    invisible, control or space character remains."""
    storable(value)
    canonical = unicodedata.normalize("NFKC", value.strip()).lower()
    for char in canonical:
        if char.isspace() or unicodedata.category(char) in _REFUSED_IN_NAMES:
            raise ValueError(f"must not contain spaces, invisible or control characters (U+{ord(char):04X})")
    return canonical


StorableText = Annotated[str, AfterValidator(storable)]
Name = Annotated[str, AfterValidator(name)]
Identifier = Annotated[str, AfterValidator(identifier)]
