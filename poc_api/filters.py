"""A search's filters checked and normalized: the one rule set of `GET /v1/pocs`, `GET /v1/pocs/facets` and
`POST /v1/pocs/exports`, so the three answer the same 422 field errors for the same values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from poc_api.search import SORTS, SearchParams
from poc_api.validation import check_owner, check_query, check_tags, parse_time
from runtime.errors import FieldError, ValidationFailed
from runtime.languages import check_language


@dataclass(frozen=True)
class RawFilters:
    """The filters as the caller gave them (query parameters, or an export's `filters` object)."""

    q: str | None = None
    language: str | None = None
    tag: Sequence[str] = ()
    owner: str | None = None
    created_from: str | None = None
    created_to: str | None = None
    sort: str | None = None


def check_filters(raw: RawFilters, subject: str, *, limit: int) -> SearchParams:
    """A search's parameters validated and normalized, every invalid one reported at once (422); `owner=me`
    becomes the caller (`subject`), `sort` its default (relevance with `q`)."""
    errors: list[FieldError] = []
    text = None
    if raw.q is not None:
        text, bad = check_query(raw.q)
        errors += bad
        text = text or None
    canonical_language = None
    if raw.language is not None:
        canonical_language, bad = check_language(raw.language)
        errors += bad
    tags: list[str] = []
    if raw.tag:
        tags, bad = check_tags(raw.tag, field="tag")
        errors += bad
    owner_id = None
    if raw.owner is not None:
        owner_id, bad = check_owner(raw.owner)
        errors += bad
        owner_id = subject if owner_id == "me" else owner_id
    start = end = None
    if raw.created_from is not None:
        start, bad = parse_time(raw.created_from, "created_from", end=False)
        errors += bad
    if raw.created_to is not None:
        end, bad = parse_time(raw.created_to, "created_to", end=True)
        errors += bad
    if start is not None and end is not None and start >= end:
        errors.append(FieldError("created_to", "empty_range", "must be later than created_from"))
    sort = raw.sort
    if sort is None:
        sort = "relevance" if text else "-created_at"
    elif sort not in SORTS:
        errors.append(FieldError("sort", "invalid_sort", f"must be one of {', '.join(SORTS)}"))
    elif sort == "relevance" and not text:
        errors.append(FieldError("sort", "relevance_needs_q", "relevance sorting needs a text query (q)"))
    if errors:
        raise ValidationFailed(errors)
    return SearchParams(
        q=text,
        language=canonical_language,
        tags=tuple(tags),
        owner_id=owner_id,
        created_from=start,
        created_to=end,
        sort=sort,
        limit=limit,
    )
