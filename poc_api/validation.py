"""The rules a POC's fields follow, each with its own error code and message (problem+json `errors`).

Every function normalizes a raw value or reports what is wrong with it as `FieldError`s; callers
collect the errors of all fields and raise one `ValidationFailed`, so a client learns everything wrong
with a request at once. Normalization rules:

- GitHub URL: `https://github.com/{owner}/{repo}`; scheme-less, `http://`, `www.`, upper-case hosts,
  a trailing slash, a `.git` suffix, `?query`/`#fragment` and the SSH form `git@github.com:o/r.git` are
  accepted and normalized; other hosts, sub-pages (`/tree/main`), credentials, ports and names that
  break GitHub's rules are refused. Owner and repository keep their case; uniqueness ignores it.
- name: trimmed, inner whitespace collapsed, NFC, 1-200 characters, no control characters.
- description: optional, trimmed, NFC, at most 4000 characters, no control characters but newlines/tabs.
- language: a known language, case-insensitive, aliases accepted (`runtime.languages`, shared with dojos).
- tags: each becomes a lowercase ASCII slug (`Machine Learning` -> `machine-learning`, `C#` ->
  `c-sharp`, `São Paulo` -> `sao-paulo`), 1-40 characters; duplicates dropped (first kept); at most 20.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit

from runtime.errors import FieldError

NAME_MAX = 200
DESCRIPTION_MAX = 4000
TAG_MAX_LENGTH = 40
TAGS_MAX = 20
TAGS_RAW_MAX = 100
"""More raw tags than this are refused before normalizing (duplicates could hide many)."""
QUERY_MAX = 200
QUERY_MAX_WORDS = 10
"""Every word must match, so more words than this only cost time (each expands to up to ~500 keys)."""
OWNER_MAX = 255

_OWNER_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
_REPO_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_SSH_RE = re.compile(r"^(?:ssh://)?git@(?P<host>[^:/]+)[:/](?P<path>.+)$", re.IGNORECASE)
_GITHUB_HOSTS = frozenset({"github.com", "www.github.com"})
# First path segments that are GitHub's own pages, not accounts (github.com/settings/profile...).
_RESERVED_OWNERS = frozenset(
    {
        "about", "account", "apps", "blog", "codespaces", "collections", "contact", "customer-stories",
        "dashboard", "enterprise", "events", "explore", "features", "issues", "join", "login", "logout",
        "marketplace", "new", "notifications", "orgs", "organizations", "pricing", "pulls", "readme",
        "search", "security", "sessions", "settings", "site", "sponsors", "team", "topics", "trending",
        "users",
    }
)  # fmt: skip
_TRANSLIT = str.maketrans({"æ": "ae", "ø": "o", "ß": "ss", "œ": "oe", "đ": "d", "ł": "l", "þ": "th", "ð": "d"})
_SLUG_SEPARATORS = re.compile(r"[^a-z0-9]+")
STOP_WORDS = frozenset(
    {
        "ao", "aos", "as", "com", "da", "das", "de", "do", "dos", "em", "na", "nas", "no", "nos", "os", "ou",
        "para", "pela", "pelo", "por", "que", "se", "um", "uma", "an", "and", "are", "at", "be", "by", "for",
        "from", "in", "is", "it", "of", "on", "or", "the", "to", "with",
    }
)  # fmt: skip
"""The stop words of `poc.search_words` (the migration); a test keeps the two lists equal."""


def _has_control(text: str, allowed: str = "") -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed for ch in text)


def _clip(value: str, limit: int = 60) -> str:
    """A value safe to quote back in a message: bounded, control characters made visible."""
    shown = value if len(value) <= limit else value[: limit - 1] + "…"
    return shown.encode("unicode_escape").decode("ascii") if _has_control(shown) else shown


# -- fields ---------------------------------------------------------------------------------------------
def check_name(value: str, field: str = "name") -> tuple[str, list[FieldError]]:
    """A POC name, normalized, and what is wrong with it (each check_* returns (value, errors))."""
    name = unicodedata.normalize("NFC", " ".join(value.split()))
    if _has_control(value, allowed="\t\n\r"):  # whitespace is collapsed into single spaces
        return name, [FieldError(field, "invalid_characters", "must not contain control characters")]
    if not name:
        return name, [FieldError(field, "blank", "must not be blank")]
    if len(name) > NAME_MAX:
        return name, [FieldError(field, "too_long", f"must be at most {NAME_MAX} characters (got {len(name)})")]
    return name, []


def check_description(value: str | None, field: str = "description") -> tuple[str, list[FieldError]]:
    """An optional description: None becomes empty; at most 4000 characters."""
    if value is None:
        return "", []
    text = unicodedata.normalize("NFC", value.strip())
    if _has_control(text, allowed="\n\t\r"):
        return text, [FieldError(field, "invalid_characters", "must not contain control characters")]
    if len(text) > DESCRIPTION_MAX:
        return text, [FieldError(field, "too_long", f"must be at most {DESCRIPTION_MAX} characters (got {len(text)})")]
    return text, []


def tag_slug(value: str) -> str:
    """`Machine Learning` -> `machine-learning`; `C++` -> `c-plus-plus`; `Ação` -> `acao`."""
    text = unicodedata.normalize("NFKD", value.lower().translate(_TRANSLIT))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("+", "-plus-").replace("#", "-sharp-")
    return _SLUG_SEPARATORS.sub("-", text).strip("-")


def check_tags(values: Sequence[str], field: str = "tags") -> tuple[list[str], list[FieldError]]:
    """Tags as deduplicated slugs; errors name the offending position (`tags.N`)."""
    if len(values) > TAGS_RAW_MAX:
        return [], [FieldError(field, "too_many", f"at most {TAGS_MAX} tags (got {len(values)})")]
    errors: list[FieldError] = []
    tags: list[str] = []
    for index, raw in enumerate(values):
        slug = tag_slug(raw)
        where = f"{field}.{index}"
        if not slug:
            errors.append(FieldError(where, "invalid_tag", f"'{_clip(raw)}' has no letters or digits to make a tag"))
        elif len(slug) > TAG_MAX_LENGTH:
            errors.append(
                FieldError(where, "too_long", f"a tag must be at most {TAG_MAX_LENGTH} characters (got {len(slug)})")
            )
        elif slug not in tags:
            tags.append(slug)
    if not errors and len(tags) > TAGS_MAX:
        errors.append(FieldError(field, "too_many", f"at most {TAGS_MAX} tags (got {len(tags)})"))
    return tags, errors


# -- GitHub URLs ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Repository:
    owner: str
    name: str

    @property
    def url(self) -> str:
        """The normalized repository URL."""
        return f"https://github.com/{self.owner}/{self.name}"


class NotGitHub(ValueError):
    """The URL is not a GitHub repository URL; `code` and `message` say why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_EXAMPLE = "https://github.com/{owner}/{repo}"


def parse_github_url(value: str) -> Repository:
    """Parse and normalize a GitHub repository URL or raise `NotGitHub`."""
    text = value.strip()
    if not text:
        raise NotGitHub("blank", f"must be the repository's GitHub URL, e.g. {_EXAMPLE}")
    if _has_control(text) or any(ch.isspace() for ch in text):
        raise NotGitHub("invalid_url", f"must be a URL without spaces or control characters, e.g. {_EXAMPLE}")
    ssh = _SSH_RE.match(text)
    if ssh:
        text = f"https://{ssh.group('host')}/{ssh.group('path')}"
    elif "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise NotGitHub("invalid_url", f"is not a valid URL; expected {_EXAMPLE}") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise NotGitHub(
            "invalid_url", f"must be an https URL (got the '{_clip(parts.scheme, 20)}' scheme); expected {_EXAMPLE}"
        )
    host = (parts.hostname or "").rstrip(".")
    if host not in _GITHUB_HOSTS:
        shown = f" ('{_clip(host, 60)}' is not github.com)" if host else ""
        raise NotGitHub("unsupported_host", f"only GitHub repository URLs are supported{shown}: use {_EXAMPLE}")
    if parts.username is not None or parts.password is not None:
        raise NotGitHub("invalid_url", "must not contain credentials")
    if port not in (None, 443, 80):
        raise NotGitHub("invalid_url", f"must not name a port; expected {_EXAMPLE}")
    segments = parts.path.split("/")[1:]
    if segments and segments[-1] == "":
        segments.pop()
    if not segments or "" in segments:
        raise NotGitHub("not_a_repository", f"must name a repository: {_EXAMPLE}")
    owner = segments[0]
    if owner.lower() in _RESERVED_OWNERS:
        raise NotGitHub("not_a_repository", f"'{_clip(owner, 40)}' is a GitHub page, not an account: use {_EXAMPLE}")
    if not _OWNER_RE.match(owner):
        raise NotGitHub(
            "invalid_owner",
            f"'{_clip(owner, 45)}' is not a GitHub account name: 1-39 letters, digits or single hyphens, "
            "not starting or ending with a hyphen",
        )
    if len(segments) == 1:
        raise NotGitHub("not_a_repository", f"points at the account '{owner}', not a repository: {_EXAMPLE}")
    repo = segments[1]
    if repo.lower().endswith(".git"):
        repo = repo[:-4]
    if repo in ("", ".", "..") or not _REPO_RE.match(repo):
        raise NotGitHub(
            "invalid_repository",
            f"'{_clip(segments[1], 45)}' is not a GitHub repository name: 1-100 letters, digits, '.', '-' or '_'",
        )
    if len(segments) > 2:
        raise NotGitHub(
            "not_a_repository",
            f"must be the repository itself, not one of its pages: did you mean https://github.com/{owner}/{repo}?",
        )
    return Repository(owner, repo)


def check_github_url(value: str, field: str = "github_url") -> tuple[str, list[FieldError]]:
    """The normalized repository URL, or the reason it is refused."""
    try:
        return parse_github_url(value).url, []
    except NotGitHub as exc:
        return value, [FieldError(field, exc.code, exc.message)]


# -- search parameters ------------------------------------------------------------------------------------
def fold(text: str) -> str:
    """Python's view of `poc.fold`: accents removed, lower-cased (used to pre-check queries)."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_TRANSLIT))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def search_words(text: str) -> list[str]:
    """Approximately `poc.search_words`: the words a query will look for."""
    return list(_search_words(text))


@functools.lru_cache(maxsize=4096)
def _search_words(text: str) -> tuple[str, ...]:
    """`search_words`, remembered per text: a search's text is split by its validation, by the service
    (does it have several words?) and by the statement builder (the typo keys)."""
    words = re.split(r"[\W_]+", fold(text))
    return tuple(dict.fromkeys(w for w in words if 2 <= len(w) <= 32 and w not in STOP_WORDS))


PREFIX_MIN = 3
"""A query with a searchable word this long is a normal search; shorter queries match by prefix."""


def prefix_words(text: str) -> list[str]:
    """The words of a short query, matched by prefix (search-as-you-type: `k`, `ku`, `de`): when no word
    of `search_words` has `PREFIX_MIN` characters, every word of 1-32 letters or digits, stop words
    included; empty for any other query (its 1-character words and stop words are ignored)."""
    return list(_prefix_words(text))


@functools.lru_cache(maxsize=4096)
def _prefix_words(text: str) -> tuple[str, ...]:
    if any(len(w) >= PREFIX_MIN for w in _search_words(text)):
        return ()
    words = re.split(r"[\W_]+", fold(text))
    return tuple(dict.fromkeys(w for w in words if 1 <= len(w) <= 32))


def check_query(value: str, field: str = "q") -> tuple[str, list[FieldError]]:
    """A search text: bounded, printable, with at least one letter or digit to search for."""
    text = unicodedata.normalize("NFC", value.strip())
    if _has_control(text):
        return text, [FieldError(field, "invalid_characters", "must not contain control characters")]
    if len(text) > QUERY_MAX:
        return text, [FieldError(field, "too_long", f"must be at most {QUERY_MAX} characters (got {len(text)})")]
    words = (search_words(text) or prefix_words(text)) if text else []
    if len(words) > QUERY_MAX_WORDS:
        return text, [FieldError(field, "too_many_words", f"at most {QUERY_MAX_WORDS} words (got {len(words)})")]
    if text and not words:
        return text, [FieldError(field, "no_search_terms", "has no word to search for (no letter or digit)")]
    return text, []


def check_owner(value: str, field: str = "owner") -> tuple[str, list[FieldError]]:
    """`me` or an opaque user id."""
    if not value or len(value) > OWNER_MAX or _has_control(value):
        return value, [FieldError(field, "invalid_owner", "must be 'me' or a user id")]
    return value, []


def parse_time(value: str, field: str, *, end: bool) -> tuple[datetime | None, list[FieldError]]:
    """An RFC 3339 date-time (offset optional, UTC assumed) or a date: the start of that day, or for an
    end bound the start of the next day (so `created_to=2024-12-31` includes the whole 31st)."""
    text = value.strip()
    invalid = [
        FieldError(
            field, "invalid_datetime", "must be an RFC 3339 date-time (2024-05-01T12:00:00Z) or a date (2024-05-01)"
        )
    ]
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)
            return (moment + timedelta(days=1) if end else moment), []
        if "T" not in text.upper():
            return None, invalid
        parsed = datetime.fromisoformat(text)
        return (parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)), []
    except (ValueError, OverflowError):
        return None, invalid
