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
                         shared deletion keys, all looked up in one index scan) → postings → an integer
                         score per POC: per word the best match (exact 10, prefix 7, one edit 6, two 5,
                         more 3), doubled when the term is in the name, summed over words; every word
                         must match. `RANKED` aggregates every matching posting; the first page of a
                         relevance search without filters takes a shortcut that reads only a few
                         postings (`TOP_OF_ONE_WORD`, `TOP_OF_WORDS`, each with its proof); with
                         several words only in large catalogues (`poc_api.catalogue_sizes`: below
                         ~30,000 POCs aggregating every match costs less).

A shortcut that cannot prove its page (the query's words are not what Python counted, or a multi-word
search whose best-scoring POCs are too few or too sparse) answers a single row whose `doc` is NULL, and
`run` then runs the full aggregation: one more round trip, in the rare case only; the statement that
answers always sees one snapshot.

Each row comes back as its JSON document, stored with the POC (`DOCUMENT`), plus its sort key for the
next cursor; the HTTP layer only concatenates documents.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from poc_api.cursor import Position
from poc_api.validation import prefix_words, search_words
from runtime.db import Database

SORTS = ("-created_at", "created_at", "-name", "name", "relevance")
TEXT_C = '::text COLLATE "C"'
"""A parameter compared with the search tables' byte-wise ("C") text columns."""

DOCUMENT = "c.document"
"""A POC as the API shows it (`c` is a poc.pocs row): its stored JSON (`poc.document`, migration 0003)."""

TEXT_MATCH = """words AS (
    SELECT u.w COLLATE "C" AS w, (u.w || chr(1114111)) COLLATE "C" AS w_end, u.n
    FROM unnest(poc.search_words({q})) WITH ORDINALITY AS u(w, n)
), given AS (
    SELECT g.word COLLATE "C" AS word, g.key COLLATE "C" AS key, g.edits
    FROM unnest(string_to_array({given_words}, chr(31)), string_to_array({given_keys}, chr(31)),
                string_to_array({given_edits}, NULL)::int[]) AS g(word, key, edits)
), keys AS (
    SELECT words.n, given.key, given.edits FROM words JOIN given ON given.word = words.w
    UNION ALL
    SELECT words.n, words.w, 0 FROM words
), terms AS (
    SELECT n, term, max(points) AS points FROM (
        SELECT keys.n, v.term,
               CASE keys.edits + v.edits WHEN 0 THEN 10 WHEN 1 THEN 6 WHEN 2 THEN 5 ELSE 3 END AS points
        FROM keys JOIN poc.search_vocabulary v ON v.key = keys.key
        WHERE v.tenant_id = {tenant} AND v.key = ANY (ARRAY(SELECT k.key FROM keys AS k))
        UNION ALL
        SELECT words.n, v.term, 7
        FROM words JOIN poc.search_vocabulary v
             ON v.tenant_id = {tenant} AND v.key > words.w AND v.key < words.w_end
        WHERE v.edits = 0 AND char_length(words.w) >= 3
    ) AS matched
    GROUP BY n, term
)"""
"""The query's words (`n`: 1, 2...) and the terms each matches, with their points. The vocabulary is read in
one index scan over every deletion key (`= ANY`: a long word has ~50), not one probe per key."""

PREFIX_MATCH = """words AS (
    SELECT u.w COLLATE "C" AS w, (u.w || chr(1114111)) COLLATE "C" AS w_end, u.n
    FROM unnest(string_to_array({words}, chr(31))) WITH ORDINALITY AS u(w, n)
), terms AS (
    SELECT words.n, v.term, CASE WHEN v.term = words.w THEN 10 ELSE 7 END AS points
    FROM words JOIN poc.search_vocabulary v
         ON v.tenant_id = {tenant} AND v.key >= words.w AND v.key < words.w_end
    WHERE v.edits = 0
)"""
"""`TEXT_MATCH` for a short query (`validation.prefix_words`: search-as-you-type, `k`, `ku`, `de`): each
word matches the terms it begins (7 points; 10 for the term itself), no typo keys. The words come from
Python (`poc.search_words` drops 1-character words and stop words); the terms are read from the
vocabulary's partial index of terms (migration 0004). What follows (`RANKED`, the shortcuts) is the same."""

RANKED = """, ranked AS (
    SELECT p.poc_id, p.created_at, ({score})::int AS score
    FROM terms t JOIN poc.search_postings p ON p.tenant_id = {tenant} AND p.term = t.term
    GROUP BY p.poc_id, p.created_at
    HAVING bit_or(1::bigint << (t.n - 1)::int) = (1::bigint << (SELECT count(*) FROM words)::int) - 1
)"""
"""Every matching POC with its score: one aggregation over all the postings of every matched term."""

TOP_OF_ONE_WORD = """, proven AS (
    SELECT (SELECT count(*) FROM words) = 1 AS yes
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
    WHERE (SELECT yes FROM proven)
    GROUP BY c.poc_id, c.created_at
)"""
"""The first page of a one-word relevance search without filters, without aggregating every match.

With one word, a POC's score is the best score among its (term, in the name or not) groups, and each
group has one score. Within a group the postings are stored newest first, so if a POC is not among the
first `rows` (= page size + 1) of its best group, `rows` POCs of that group rank above it: it is not on
the page. The first `rows` of each group therefore hold every POC of the page, with its true score (its
best group is among them); any other candidate gets a score no higher than its true one, so it cannot
push a true one off the page. A large tenant's common word then reads tens of postings instead of
thousands. Python chose this statement because it counts one word; should the SQL count otherwise
(`proven`), the statement answers "unanswered" and `run` aggregates every match."""

TOP_OF_WORDS = """, groups AS (
    SELECT t.n, t.term, f.in_name, t.points * CASE WHEN f.in_name THEN 2 ELSE 1 END AS score
    FROM terms t CROSS JOIN (VALUES (true), (false)) AS f(in_name)
    WHERE EXISTS (
        SELECT FROM poc.search_postings p
        WHERE p.tenant_id = {tenant} AND p.term = t.term AND p.in_name = f.in_name)
), best AS (
    SELECT g.n, g.term, g.in_name, g.score FROM groups g
    WHERE g.score = (SELECT max(h.score) FROM groups h WHERE h.n = g.n)
), hits AS (
    SELECT d.term, d.in_name, h.poc_id, h.created_at
    FROM best d CROSS JOIN LATERAL (
        SELECT s.poc_id, s.created_at FROM (
            SELECT p.poc_id, p.created_at FROM poc.search_postings p
            WHERE p.tenant_id = {tenant} AND p.term = d.term AND p.in_name = d.in_name
            ORDER BY p.created_at DESC, p.poc_id DESC
            LIMIT {budget}
        ) AS s
        WHERE NOT EXISTS (
            SELECT FROM words w
            WHERE w.n <> 1 AND NOT EXISTS (
                SELECT FROM best o JOIN poc.search_postings q
                     ON q.tenant_id = {tenant} AND q.poc_id = s.poc_id AND q.term = o.term
                WHERE o.n = w.n AND q.in_name = o.in_name))
        ORDER BY s.created_at DESC, s.poc_id DESC
        LIMIT {rows}
    ) AS h
    WHERE d.n = 1
), proven AS (
    SELECT (SELECT count(*) FROM words) = {words}
       AND (SELECT count(DISTINCT h.poc_id) FROM hits h) >= {rows}
       AND NOT EXISTS (
           SELECT FROM best d
           WHERE d.n = 1
             AND (SELECT count(*) FROM hits h WHERE h.term = d.term AND h.in_name = d.in_name) < {rows}
             AND EXISTS (
                 SELECT FROM poc.search_postings p
                 WHERE p.tenant_id = {tenant} AND p.term = d.term AND p.in_name = d.in_name
                 ORDER BY p.created_at DESC, p.poc_id DESC
                 OFFSET {budget})) AS yes
), top AS (
    SELECT h.poc_id, h.created_at,
           (SELECT sum(m.score) FROM (SELECT max(b.score) AS score FROM best b GROUP BY b.n) AS m)::int AS score
    FROM hits h
    WHERE (SELECT yes FROM proven)
    GROUP BY h.poc_id, h.created_at
)"""
"""The first page of a relevance search of several words without filters, when the best-scoring POCs fill it.

Groups are (word, term, in the name or not) with postings, each with one score (the term's points for the
word, doubled in the name). `best` keeps each word's highest-scoring groups, of score M(word). A POC with a
posting in a best group of every word scores ΣM, the highest score possible; any other matching POC misses
M for some word and scores less (a word's score is its best group's). So if there are at least `rows` (=
page size + 1) such POCs, the page is the `rows` newest of them, all scoring ΣM.

They are found from the first word's best groups, newest first (their postings are stored so), keeping
the postings whose POC has a posting in a best group of every other word (index probes), up to `rows`
hits per group and reading at most `budget` postings of each. A group is complete when it gave `rows`
hits or has no more than `budget` postings: then its hits are the newest of its POCs that score ΣM. The
`rows` newest such POCs overall are among the first `rows` of some group, so with every first-word
group complete and `rows` distinct hits in all, the hits hold the page (`proven`). Otherwise (few
best-scoring POCs, scattered among many postings of the first word, or the SQL counts other words than
Python, whose count the scores assume) the statement answers "unanswered" and `run` aggregates every
match. Reads `budget` postings per group at most instead of every posting of every term."""

BUDGET = 4
"""`TOP_OF_WORDS` reads at most BUDGET × (page size + 1) postings of each best group of the first word."""

UNANSWERED = (
    "SELECT NULL::text AS doc, NULL::int AS score, NULL::timestamptz AS created_at, NULL::uuid AS id,"
    " NULL::text AS name_key WHERE NOT (SELECT yes FROM proven)"
)
"""The row a shortcut answers when it cannot prove its page (`run` then aggregates every match)."""


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


@functools.lru_cache(maxsize=8192)
def word_keys(word: str) -> tuple[str, str, str]:
    """One word's part of `query_keys`: the word once per key, the keys, their deletion counts (digits),
    each joined as `query_keys` sends them. Remembered per word: people search the same words again, and
    a long word has ~120 keys to build."""
    keys = deletion_keys(word)
    return SEPARATOR.join([word] * len(keys)), SEPARATOR.join(keys), "".join(str(n) for n in keys.values())


def deletion_keys(word: str) -> dict[str, int]:
    """`poc.deletion_keys(word, max_edits(word))`: each key with its number of deletions."""
    keys = {word: 0}
    frontier = [word]
    for edits in range(1, max_edits(word) + 1):
        frontier = [k[:i] + k[i + 1 :] for k in frontier for i in range(len(k))]
        for key in frontier:
            keys.setdefault(key, edits)
    return keys


def query_keys(q: str) -> tuple[int, str, str, str]:
    """The deletion keys of the query's words, computed here rather than by the database (PostgreSQL
    spends ~0.3 ms per word on them). The SQL stays the authority on what the words are; should it find
    a word these do not cover (Python's accent folding and `unaccent` disagree on a few rare letters),
    that word is still matched exactly and by prefix, only without typo tolerance.

    The number of distinct words, then three texts with one entry per key: the key's word and the key
    joined by `SEPARATOR` (words are letters and digits only), its deletion count as one digit (0-2).
    Texts rather than arrays: asyncpg encodes an array element by element with Python type checks, which
    cost more than the rest of the statement's encoding; PostgreSQL splits the texts (`string_to_array`)
    for next to nothing."""
    parts = [word_keys(word) for word in search_words(q)]
    return (
        len(parts),
        SEPARATOR.join(p[0] for p in parts),
        SEPARATOR.join(p[1] for p in parts),
        "".join(p[2] for p in parts),
    )


SEPARATOR = "\x1f"
"""Between the words and keys `query_keys` sends (ASCII unit separator, `chr(31)` in the SQL)."""


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


def first_relevance_page(params: SearchParams) -> bool:
    """The first page of a relevance search without filters: what the shortcuts answer."""
    return (
        params.sort == "relevance"
        and params.position is None
        and not params.tags
        and params.language is None
        and params.owner_id is None
        and params.created_from is None
        and params.created_to is None
    )


def sort_columns(sort: str) -> tuple[tuple[str, ...], str]:
    """The columns of `build`'s rows a search is ordered by (the last one, `id`, makes the order total) and
    the direction (`ASC` or `DESC`, the same for every column)."""
    direction = "DESC" if sort.startswith("-") or sort == "relevance" else "ASC"
    if sort == "relevance":
        return ("score", "created_at", "id"), direction
    if sort in ("-created_at", "created_at"):
        return ("created_at", "id"), direction
    return ("name_key", "id"), direction


def build(params: SearchParams, *, shortcut: bool = True, many_words_shortcut: bool = False) -> tuple[str, list[Any]]:
    """The statement and its arguments after the tenant id (`$1`). Columns: doc (text), score,
    created_at, id, name_key. With a shortcut (the first relevance page without filters; for several
    words only with `many_words_shortcut`, worth it for large catalogues: `poc_api.catalogue_sizes`) the
    statement may answer one row whose doc is NULL: it could not prove its page, `shortcut=False`
    aggregates.

    Two stages: `page` finds the sort keys of the rows to serve (for a text search from the postings
    alone when no filter needs the POC row), then only those rows are read and turned into JSON.

    Every table is also compared with `tenant_id = $1` although row-level security already restricts it:
    this gives the planner the tenant as a parameter (see `runtime.db.tenant_statement`), and it lets
    each index be searched from the tenant prefix directly.
    """
    b = _Builder()
    m = _matches(b, params, shortcut=shortcut, many_words_shortcut=many_words_shortcut)
    where = m.where
    columns, direction = sort_columns(params.sort)
    expressions = {"score": m.score, "created_at": m.created, "id": m.ident, "name_key": m.name_key}
    key_casts = {"score": "::int", "created_at": "::timestamptz", "id": "::uuid", "name_key": TEXT_C}
    keys = [expressions[column] for column in columns]
    outer = [f"page.{column}" for column in columns]
    casts = tuple(key_casts[column] for column in columns)
    if params.position is not None:
        values = ", ".join(b.arg(v, cast) for v, cast in zip(params.position.key, casts, strict=True))
        where.append(f"({', '.join(keys)}) {'<' if direction == 'DESC' else '>'} ({values})")

    # Only column names and $n placeholders are interpolated; every value travels as a parameter.
    page = [
        f"SELECT {m.ident} AS id, {m.created} AS created_at, {m.score} AS score, {m.name_key} AS name_key",
        f"FROM {m.source}",
        f"WHERE {' AND '.join(where)}" if where else "",
        f"ORDER BY {', '.join(f'{k} {direction}' for k in keys)}",
        f"LIMIT {b.arg(params.limit + 1, '::int')}",
    ]
    ctes = [*m.ctes, "page AS (\n    " + "\n    ".join(line for line in page if line) + "\n)"]
    answer = [
        f"SELECT {DOCUMENT}::text AS doc, page.score, c.created_at, c.id, c.name_key",
        f"FROM page JOIN poc.pocs c ON c.tenant_id = {TENANT} AND c.id = page.id",
        f"ORDER BY {', '.join(f'{k} {direction}' for k in outer)}",
    ]
    if m.first_page_of_matches:
        # Either the unanswered row or the page: `top` is empty unless the page is proven.
        answer = ["(" + UNANSWERED + ")", "UNION ALL", "(", *answer, ")"]
    return "\n".join(["WITH " + ",\n".join(ctes), *answer]), b.args


@dataclass
class _Matches:
    """The rows a search's filters select, before sorting and paging: CTEs, the FROM clause, the WHERE
    conditions and the expressions of the sort keys (`ident` is the POC id)."""

    ctes: list[str]
    source: str
    where: list[str]
    score: str
    created: str
    ident: str
    name_key: str
    first_page_of_matches: bool


def _text_match(b: _Builder, q: str) -> tuple[int, str]:
    """The CTEs `words` and `terms` of a text query, and its number of words."""
    short = prefix_words(q)
    if short:
        return len(short), PREFIX_MATCH.format(tenant=TENANT, words=b.arg(SEPARATOR.join(short), "::text"))
    word_count, given_words, given_keys, given_edits = query_keys(q)
    match = TEXT_MATCH.format(
        tenant=TENANT,
        q=b.arg(q),
        given_words=b.arg(given_words, "::text"),
        given_keys=b.arg(given_keys, "::text"),
        given_edits=b.arg(given_edits, "::text"),
    )
    return word_count, match


def _matches(b: _Builder, params: SearchParams, *, shortcut: bool, many_words_shortcut: bool) -> _Matches:
    where: list[str] = []
    ctes: list[str] = []
    tags = list(params.tags)
    created_sort = params.sort in ("-created_at", "created_at")
    first_page_of_matches = False
    if params.q:
        word_count, match = _text_match(b, params.q)
        first_page_of_matches = shortcut and (word_count == 1 or many_words_shortcut) and first_relevance_page(params)
        if first_page_of_matches and word_count == 1:
            match += TOP_OF_ONE_WORD.format(tenant=TENANT, rows=b.arg(params.limit + 1, "::int"))
        elif first_page_of_matches:
            rows, budget = b.arg(params.limit + 1, "::int"), b.arg(BUDGET * (params.limit + 1), "::int")
            match += TOP_OF_WORDS.format(tenant=TENANT, rows=rows, budget=budget, words=word_count)
        else:
            match += RANKED.format(tenant=TENANT, score=score_sql(word_count))
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
        # A tag row carries its POC's creation time: the date range bounds the tag's index range too.
        within = ""
        if params.created_from is not None:
            within += f" AND x.created_at >= {b.arg(params.created_from, '::timestamptz')}"
        if params.created_to is not None:
            within += f" AND x.created_at < {b.arg(params.created_to, '::timestamptz')}"
        where.append(f"EXISTS ({probe}{b.arg(tag, TEXT_C)}{within})")
    if params.language is not None:
        where.append(f"c.language = {b.arg(params.language, '::text')}")
    if params.owner_id is not None:
        where.append(f"c.owner_id = {b.arg(params.owner_id, '::text')}")
    if params.created_from is not None:
        where.append(f"{created} >= {b.arg(params.created_from, '::timestamptz')}")
    if params.created_to is not None:
        where.append(f"{created} < {b.arg(params.created_to, '::timestamptz')}")
    return _Matches(ctes, source, where, score, created, ident, name_key, first_page_of_matches)


FACETS_TOP_DEFAULT, FACETS_TOP_MAX = 20, 100
FACET_COUNTS = """languages AS (
    SELECT c.language AS value, count(*) AS n
    FROM matched JOIN poc.pocs c ON c.tenant_id = {tenant} AND c.id = matched.id
    GROUP BY c.language ORDER BY n DESC, value LIMIT {top}
), tags AS (
    SELECT x.tag AS value, count(*) AS n
    FROM matched JOIN poc.poc_tags x ON x.tenant_id = {tenant} AND x.poc_id = matched.id
    GROUP BY x.tag ORDER BY n DESC, value LIMIT {top}
)"""
FACET_ANSWER = """SELECT 'language' AS facet, value::text, n AS count FROM languages
UNION ALL
SELECT 'tag', value::text, n FROM tags"""


def build_facets(params: SearchParams, top: int) -> tuple[str, list[Any]]:
    """The statement counting the POCs a search matches (its filters; not its sort, limit or cursor) per
    language and per tag, the `top` most frequent of each (ties by value). Columns: facet (`language` or
    `tag`), value, count. Text queries aggregate every match (`RANKED`): a count needs them all."""
    b = _Builder()
    m = _matches(b, params, shortcut=False, many_words_shortcut=False)
    limit = b.arg(top, "::int")
    matched = "\n    ".join(
        line
        for line in (
            f"SELECT DISTINCT {m.ident} AS id",
            f"FROM {m.source}",
            f"WHERE {' AND '.join(m.where)}" if m.where else "",
        )
        if line
    )
    ctes = [*m.ctes, f"matched AS (\n    {matched}\n)", FACET_COUNTS.format(tenant=TENANT, top=limit)]
    return "WITH " + ",\n".join(ctes) + "\n" + FACET_ANSWER, b.args


async def facets(db: Database, tenant_id: uuid.UUID | str, params: SearchParams, top: int) -> dict[str, Any]:
    """`{languages: [{value, count}], tags: [{value, count}]}` for a search, most frequent first."""
    sql, args = build_facets(params, top)
    rows = await db.tenant_fetch(tenant_id, sql, *args)
    result: dict[str, list[dict[str, Any]]] = {"languages": [], "tags": []}
    for row in rows:
        result["languages" if row["facet"] == "language" else "tags"].append(
            {"value": row["value"], "count": int(row["count"])}
        )
    for values in result.values():
        values.sort(key=lambda item: (-item["count"], item["value"]))
    return result


SERVER_SETTINGS = {"plan_cache_mode": "force_generic_plan"}
"""Session defaults of the POC service's connections: statements are planned once per connection
(generic plans), not on every call. Search plans do not depend on the parameter values (words arrive as
texts, the tenant and keyset bounds drive the same indexes), and they could not use the values anyway:
the tenant context is only set while the statement runs. Re-planning cost ~0.7 ms per text search
(half its cost) and ~0.25 ms per page."""


async def run(
    db: Database, tenant_id: uuid.UUID | str, params: SearchParams, *, many_words_shortcut: bool = False
) -> list[asyncpg.Record]:
    """Run a search for a tenant: one statement, one round trip; rows as `build` describes them. Should a
    shortcut leave the page unanswered, the full aggregation runs (a second statement)."""
    sql, args = build(params, many_words_shortcut=many_words_shortcut)
    rows = await db.tenant_fetch(tenant_id, sql, *args)
    if rows and rows[0]["doc"] is None:
        sql, args = build(params, shortcut=False)
        rows = await db.tenant_fetch(tenant_id, sql, *args)
    return rows


def cursor_key(sort: str, row: Any) -> tuple[int | str | uuid.UUID, ...]:
    """The sort key of a result row, as the cursor stores it."""
    from poc_api.cursor import to_micros

    if sort == "relevance":
        return (int(row["score"]), to_micros(row["created_at"]), row["id"])
    if sort in ("created_at", "-created_at"):
        return (to_micros(row["created_at"]), row["id"])
    return (str(row["name_key"]), row["id"])
