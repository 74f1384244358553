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

import asyncpg

from poc_api.cursor import Position
from poc_api.validation import search_words
from runtime.db import Database

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
), given AS (
    SELECT g.word COLLATE "C" AS word, g.key COLLATE "C" AS key, g.edits
    FROM unnest({given_words}, {given_keys}, {given_edits}) AS g(word, key, edits)
), keys AS (
    SELECT words.n, given.key, given.edits FROM words JOIN given ON given.word = words.w
    UNION ALL
    SELECT words.n, words.w, 0 FROM words
), terms AS (
    SELECT n, term, max(points) AS points FROM (
        SELECT keys.n, v.term,
               CASE keys.edits + v.edits WHEN 0 THEN 10 WHEN 1 THEN 6 WHEN 2 THEN 5 ELSE 3 END AS points
        FROM keys JOIN poc.search_vocabulary v ON v.tenant_id = {tenant} AND v.key = keys.key
        UNION ALL
        SELECT words.n, v.term, 7
        FROM words JOIN poc.search_vocabulary v
             ON v.tenant_id = {tenant} AND v.key > words.w AND v.key < words.w_end
        WHERE v.edits = 0 AND char_length(words.w) >= 3
    ) AS matched
    GROUP BY n, term
), ranked AS (
    SELECT p.poc_id, p.created_at, ({score})::int AS score
    FROM terms t JOIN poc.search_postings p ON p.tenant_id = {tenant} AND p.term = t.term
    GROUP BY p.poc_id, p.created_at
    HAVING bit_or(1::bigint << (t.n - 1)::int) = (1::bigint << (SELECT count(*) FROM words)::int) - 1
)"""

TOP_OF_ONE_WORD = """, ranked_all AS (
    SELECT * FROM ranked WHERE (SELECT count(*) FROM words) <> 1
), top AS (
    SELECT c.poc_id, c.created_at, max(c.points)::int AS score
    FROM terms t
    CROSS JOIN (VALUES (true), (false)) AS f(in_name)
    CROSS JOIN LATERAL (
        SELECT p.poc_id, p.created_at, t.points * CASE WHEN f.in_name THEN 2 ELSE 1 END AS points
        FROM poc.search_postings p
        WHERE p.tenant_id = {tenant} AND p.term = t.term AND p.in_name = f.in_name
        ORDER BY p.created_at DESC, p.poc_id DESC
        LIMIT {rows}
    ) AS c
    WHERE (SELECT count(*) FROM words) = 1
    GROUP BY c.poc_id, c.created_at
    UNION ALL
    SELECT * FROM ranked_all
)"""
"""The first page of a one-word relevance search without filters, without aggregating every match.

With one word, a POC's score is the best score among its (term, in the name or not) groups, and each
group has one score. Within a group the postings are stored newest first, so if a POC is not among the
first `rows` (= page size + 1) of its best group, `rows` POCs of that group rank above it: it is not on
the page. The first `rows` of each group therefore hold every POC of the page, with its true score (its
best group is among them); any other candidate gets a score no higher than its true one, so it cannot
push a true one off the page. A large tenant's common word then reads tens of postings instead of
thousands. The SQL decides whether the query has one word (`(SELECT count(*) FROM words) = 1`); with
more, `top` is `ranked`, the full aggregation."""


POINTS = "t.points * CASE WHEN p.in_name THEN 2 ELSE 1 END"


def score_sql(words: int) -> str:
    """A POC's score in one aggregation over its postings: per query word the best of its terms' points
    (`max(...) FILTER (WHERE n = i)`), summed. `words` is the number of words Python found; should the SQL
    find more (the two fold a few rare letters differently), those are still required (the HAVING mask
    counts the SQL's words) and score together in one last term."""
    parts = [f"coalesce(max({POINTS}) FILTER (WHERE t.n = {n}), 0)" for n in range(1, words + 1)]
    parts.append(f"coalesce(max({POINTS}) FILTER (WHERE t.n > {words}), 0)")
    return " + ".join(parts)


def max_edits(word: str) -> int:
    """`poc.max_edits`: none under 4 characters, 1 up to 7, then 2."""
    return 2 if len(word) >= 8 else 1 if len(word) >= 4 else 0


def deletion_keys(word: str) -> dict[str, int]:
    """`poc.deletion_keys(word, max_edits(word))`: each key with its number of deletions."""
    keys = {word: 0}
    frontier = [word]
    for edits in range(1, max_edits(word) + 1):
        frontier = [k[:i] + k[i + 1 :] for k in frontier for i in range(len(k))]
        for key in frontier:
            keys.setdefault(key, edits)
    return keys


def query_keys(q: str) -> tuple[list[str], list[str], list[int]]:
    """The deletion keys of the query's words, computed here rather than by the database (PostgreSQL
    spends ~0.3 ms per word on them). The SQL stays the authority on what the words are; should it find
    a word these do not cover (Python's accent folding and `unaccent` disagree on a few rare letters),
    that word is still matched exactly and by prefix, only without typo tolerance."""
    words: list[str] = []
    keys: list[str] = []
    edits: list[int] = []
    for word in search_words(q):
        for key, count in deletion_keys(word).items():
            words.append(word)
            keys.append(key)
            edits.append(count)
    return words, keys, edits


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


TENANT = "$1::uuid"
"""The tenant id: the first parameter of every search statement (`runtime.db.tenant_statement`)."""


@dataclass
class _Builder:
    args: list[Any] = field(default_factory=list)
    first: int = 2
    """`$1` is the tenant id, given by the caller."""

    def arg(self, value: Any, cast: str = "") -> str:
        self.args.append(value)
        return f"${len(self.args) + self.first - 1}{cast}"


def build(params: SearchParams) -> tuple[str, list[Any]]:
    """The statement and its arguments after the tenant id (`$1`). Columns: doc (text), score,
    created_at, id, name_key.

    Two stages: `page` finds the sort keys of the rows to serve (for a text search from the postings
    alone when no filter needs the POC row), then only those rows are read and turned into JSON.

    Every table is also compared with `tenant_id = $1` although row-level security already restricts it:
    this gives the planner the tenant as a parameter (see `runtime.db.tenant_statement`), and it lets
    each index be searched from the tenant prefix directly.
    """
    b = _Builder()
    where: list[str] = []
    ctes: list[str] = []
    tags = list(params.tags)
    created_sort = params.sort in ("-created_at", "created_at")
    if params.q:
        words, keys, edits = query_keys(params.q)
        match = TEXT_MATCH.format(
            tenant=TENANT,
            score=score_sql(len(set(words))),
            q=b.arg(params.q),
            given_words=b.arg(words, "::text[]"),
            given_keys=b.arg(keys, "::text[]"),
            given_edits=b.arg(edits, "::int[]"),
        )
        first_page_of_matches = (
            params.sort == "relevance"
            and params.position is None
            and not tags
            and params.language is None
            and params.owner_id is None
            and params.created_from is None
            and params.created_to is None
        )
        if first_page_of_matches:
            match += TOP_OF_ONE_WORD.format(tenant=TENANT, rows=b.arg(params.limit + 1, "::int"))
        ctes.append(match)
        source = "top r" if first_page_of_matches else "ranked r"
        score, created, ident = "r.score", "r.created_at", "r.poc_id"
        if (
            params.language is not None
            or params.owner_id is not None
            or not (created_sort or params.sort == "relevance")
        ):
            source += f" JOIN poc.pocs c ON c.tenant_id = {TENANT} AND c.id = r.poc_id"
            name_key = "c.name_key"
        else:
            name_key = "NULL::text"
    elif tags and created_sort:
        # The first tag drives the scan, in creation order, from the poc_tags index.
        source = "poc.poc_tags t"
        if params.language is not None or params.owner_id is not None:
            source += f" JOIN poc.pocs c ON c.tenant_id = {TENANT} AND c.id = t.poc_id"
        where.append(f"t.tenant_id = {TENANT}")
        where.append(f"t.tag = {b.arg(tags.pop(0), TEXT_C)}")
        score, created, ident, name_key = "0", "t.created_at", "t.poc_id", "NULL::text"
    else:
        source = "poc.pocs c"
        where.append(f"c.tenant_id = {TENANT}")
        score, created, ident, name_key = "0", "c.created_at", "c.id", "c.name_key"
    for tag in tags:
        probe = f"SELECT 1 FROM poc.poc_tags x WHERE x.tenant_id = {TENANT} AND x.poc_id = {ident} AND x.tag = "  # noqa: S608 - column names
        where.append(f"EXISTS ({probe}{b.arg(tag, TEXT_C)})")
    if params.language is not None:
        where.append(f"c.language = {b.arg(params.language, '::text')}")
    if params.owner_id is not None:
        where.append(f"c.owner_id = {b.arg(params.owner_id, '::text')}")
    if params.created_from is not None:
        where.append(f"{created} >= {b.arg(params.created_from, '::timestamptz')}")
    if params.created_to is not None:
        where.append(f"{created} < {b.arg(params.created_to, '::timestamptz')}")

    descending = params.sort.startswith("-")
    direction = "DESC" if descending or params.sort == "relevance" else "ASC"
    if params.sort == "relevance":
        keys, outer = [score, created, ident], ["page.score", "page.created_at", "page.id"]
        casts: tuple[str, ...] = ("::int", "::timestamptz", "::uuid")
    elif created_sort:
        keys, outer = [created, ident], ["page.created_at", "page.id"]
        casts = ("::timestamptz", "::uuid")
    else:
        keys, outer = [name_key, ident], ["page.name_key", "page.id"]
        casts = (TEXT_C, "::uuid")
    if params.position is not None:
        values = ", ".join(b.arg(v, cast) for v, cast in zip(params.position.key, casts, strict=True))
        where.append(f"({', '.join(keys)}) {'<' if direction == 'DESC' else '>'} ({values})")

    # Only column names and $n placeholders are interpolated; every value travels as a parameter.
    page = [
        f"SELECT {ident} AS id, {created} AS created_at, {score} AS score, {name_key} AS name_key",
        f"FROM {source}",
        f"WHERE {' AND '.join(where)}" if where else "",
        f"ORDER BY {', '.join(f'{k} {direction}' for k in keys)}",
        f"LIMIT {b.arg(params.limit + 1, '::int')}",
    ]
    ctes.append("page AS (\n    " + "\n    ".join(line for line in page if line) + "\n)")
    sql = "\n".join(
        [
            "WITH " + ",\n".join(ctes),
            f"SELECT {DOCUMENT}::text AS doc, page.score, c.created_at, c.id, c.name_key",
            f"FROM page JOIN poc.pocs c ON c.tenant_id = {TENANT} AND c.id = page.id",
            f"ORDER BY {', '.join(f'{k} {direction}' for k in outer)}",
        ]
    )
    return sql, b.args


SERVER_SETTINGS = {"plan_cache_mode": "force_generic_plan"}
"""Session defaults of the POC service's connections: statements are planned once per connection
(generic plans), not on every call. Search plans do not depend on the parameter values (words arrive as
arrays, the tenant and keyset bounds drive the same indexes), and they could not use the values anyway:
the tenant context is only set while the statement runs. Re-planning cost ~0.7 ms per text search
(half its cost) and ~0.25 ms per page."""


async def run(db: Database, tenant_id: uuid.UUID | str, params: SearchParams) -> list[asyncpg.Record]:
    """Run a search for a tenant: one statement, one round trip; rows as `build` describes them."""
    sql, args = build(params)
    return await db.tenant_fetch(tenant_id, sql, *args)


def cursor_key(sort: str, row: Any) -> tuple[int | str | uuid.UUID, ...]:
    """The sort key of a result row, as the cursor stores it."""
    from poc_api.cursor import to_micros

    if sort == "relevance":
        return (int(row["score"]), to_micros(row["created_at"]), row["id"])
    if sort in ("created_at", "-created_at"):
        return (to_micros(row["created_at"]), row["id"])
    return (str(row["name_key"]), row["id"])
