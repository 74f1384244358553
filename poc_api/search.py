"""The SQL behind `GET /v1/pocs`: one statement per search, built from validated parameters.

Theory of operation. Row-level security adds `tenant_id = poc.current_tenant()` to every table a query
reads, and PostgreSQL only turns *leakproof* conditions into index conditions under it (see the
migration). So every condition below is an equality or range comparison on uuid/text/timestamptz, and
each query shape is driven by one B-tree index:

- no text, no tag:       pocs_by_created / pocs_by_name / pocs_by_language / pocs_by_owner, read in order
                         from the cursor position, so deep pages cost the same as the first;
- tags (created sorts):  poc_tags_by_tag for the first tag, in creation order; further tags are
                         index probes (all must match);
- text:                  query words → vocabulary terms (exact, prefix, or within an edit distance via
                         shared deletion keys) → postings → an integer score per POC: per word the best
                         match (exact 10, prefix 7, one edit 6, two 5, more 3), doubled when the term
                         is in the name, summed over words; every word must match.

Each row comes back as its JSON document, built by PostgreSQL (`DOCUMENT`), plus its sort key for the
next cursor; the HTTP layer only concatenates documents.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from poc_api.cursor import Position

SORTS = ("-created_at", "created_at", "-name", "name", "relevance")
TEXT_C = '::text COLLATE "C"'
"""A parameter compared with the search tables' byte-wise ("C") text columns."""

DOCUMENT = """json_build_object(
    'id', c.id, 'name', c.name, 'description', c.description, 'github_url', c.github_url,
    'language', c.language, 'tags', c.tags, 'owner_id', c.owner_id,
    'created_at', to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'updated_at', to_char(c.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))"""
"""A POC as the API shows it (`c` is a poc.pocs row)."""

TEXT_MATCH = """words AS (
    SELECT u.w COLLATE "C" AS w, (u.w || chr(1114111)) COLLATE "C" AS w_end, u.n
    FROM unnest(poc.search_words({q})) WITH ORDINALITY AS u(w, n)
), keys AS (
    SELECT words.n, k.key COLLATE "C" AS key, k.edits
    FROM words CROSS JOIN LATERAL poc.deletion_keys(words.w, poc.max_edits(words.w)) AS k
), terms AS (
    SELECT n, term, max(points) AS points FROM (
        SELECT keys.n, v.term,
               CASE keys.edits + v.edits WHEN 0 THEN 10 WHEN 1 THEN 6 WHEN 2 THEN 5 ELSE 3 END AS points
        FROM keys JOIN poc.search_vocabulary v ON v.key = keys.key
        UNION ALL
        SELECT words.n, v.term, 7
        FROM words JOIN poc.search_vocabulary v ON v.key > words.w AND v.key < words.w_end
        WHERE v.edits = 0 AND char_length(words.w) >= 3
    ) AS matched
    GROUP BY n, term
), hits AS (
    SELECT p.poc_id, t.n, max(t.points * CASE WHEN p.in_name THEN 2 ELSE 1 END) AS points
    FROM terms t JOIN poc.search_postings p ON p.term = t.term
    GROUP BY p.poc_id, t.n
), ranked AS (
    SELECT poc_id, sum(points)::int AS score FROM hits
    GROUP BY poc_id
    HAVING count(*) = (SELECT count(*) FROM words)
)"""


@dataclass(frozen=True)
class SearchParams:
    """A validated search: every value already normalized (language canonical, tags slugs...)."""

    q: str | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()
    owner_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    sort: str = "-created_at"
    limit: int = 20
    position: Position | None = None

    def fingerprint_parts(self) -> tuple[object, ...]:
        """What a cursor must agree with (everything but the limit and the position)."""
        return (
            self.q,
            self.language,
            sorted(self.tags),
            self.owner_id,
            self.created_from.isoformat() if self.created_from else None,
            self.created_to.isoformat() if self.created_to else None,
            self.sort,
        )


@dataclass
class _Builder:
    args: list[Any] = field(default_factory=list)

    def arg(self, value: Any, cast: str = "") -> str:
        self.args.append(value)
        return f"${len(self.args)}{cast}"


def build(params: SearchParams) -> tuple[str, list[Any]]:
    """The statement and its arguments. Columns: doc (text), score, created_at, id, name_key."""
    b = _Builder()
    where: list[str] = []
    ctes = ""
    tags = list(params.tags)
    created_sort = params.sort in ("-created_at", "created_at")
    if params.q:
        ctes = "WITH " + TEXT_MATCH.format(q=b.arg(params.q))
        source = "ranked r JOIN poc.pocs c ON c.id = r.poc_id"
        score = "r.score"
    else:
        score = "0"
        source = "poc.pocs c"
    created, ident = "c.created_at", "c.id"
    if tags and created_sort and not params.q:
        # The first tag drives the scan, in creation order, from the poc_tags index.
        source = "poc.poc_tags t JOIN poc.pocs c ON c.tenant_id = t.tenant_id AND c.id = t.poc_id"
        where.append(f"t.tag = {b.arg(tags.pop(0), TEXT_C)}")
        created, ident = "t.created_at", "t.poc_id"
    for tag in tags:
        probe = "SELECT 1 FROM poc.poc_tags x WHERE x.tenant_id = c.tenant_id AND x.poc_id = c.id AND x.tag = "
        where.append(f"EXISTS ({probe}{b.arg(tag, TEXT_C)})")
    if params.language is not None:
        where.append(f"c.language = {b.arg(params.language, '::text')}")
    if params.owner_id is not None:
        where.append(f"c.owner_id = {b.arg(params.owner_id, '::text')}")
    if params.created_from is not None:
        where.append(f"{created} >= {b.arg(params.created_from, '::timestamptz')}")
    if params.created_to is not None:
        where.append(f"{created} < {b.arg(params.created_to, '::timestamptz')}")

    if params.sort == "relevance":
        order = [f"{score} DESC", f"{created} DESC", f"{ident} DESC"]
        keyset_columns, op = f"({score}, {created}, {ident})", "<"
        casts: tuple[str, ...] = ("::int", "::timestamptz", "::uuid")
    elif created_sort:
        descending = params.sort.startswith("-")
        order = [f"{created} {'DESC' if descending else 'ASC'}", f"{ident} {'DESC' if descending else 'ASC'}"]
        keyset_columns, op = f"({created}, {ident})", "<" if descending else ">"
        casts = ("::timestamptz", "::uuid")
    else:
        descending = params.sort.startswith("-")
        order = [f"c.name_key {'DESC' if descending else 'ASC'}", f"c.id {'DESC' if descending else 'ASC'}"]
        keyset_columns, op = "(c.name_key, c.id)", "<" if descending else ">"
        casts = (TEXT_C, "::uuid")
    if params.position is not None:
        values = ", ".join(b.arg(v, cast) for v, cast in zip(params.position.key, casts, strict=True))
        where.append(f"{keyset_columns} {op} ({values})")

    # Only constants and $n placeholders are interpolated; every value travels as a parameter.
    sql = (
        f"{ctes}\nSELECT {DOCUMENT}::text AS doc, {score} AS score, c.created_at, c.id, c.name_key\n"
        f"FROM {source}\n"
        + (f"WHERE {' AND '.join(where)}\n" if where else "")
        + f"ORDER BY {', '.join(order)}\nLIMIT {b.arg(params.limit + 1, '::int')}"
    )
    return sql, b.args


def cursor_key(sort: str, row: Any) -> tuple[int | str | uuid.UUID, ...]:
    """The sort key of a result row, as the cursor stores it."""
    from poc_api.cursor import to_micros

    if sort == "relevance":
        return (int(row["score"]), to_micros(row["created_at"]), row["id"])
    if sort in ("created_at", "-created_at"):
        return (to_micros(row["created_at"]), row["id"])
    return (str(row["name_key"]), row["id"])
