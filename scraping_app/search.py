"""Full-text search of stored postings, one query language on both databases.

The language is PostgreSQL's `websearch_to_tsquery`: bare words must all match, "quoted words" match as a phrase,
`OR` separates alternatives (binding looser than the implied AND), and `-term` excludes. `websearch_parse` reads it
once, here, into a small tree; PostgreSQL then gets that tree back as a clean websearch string (so odd input
behaves the same on both databases) and SQLite gets an FTS5 MATCH expression in which every word is double-quoted,
so no user text can be FTS5 syntax.

Words are runs of letters and digits (other characters separate words), compared case-insensitively, with no
stemming and no stop words: PostgreSQL's 'simple' configuration over text with non-alphanumerics replaced by
spaces, and FTS5's unicode61 tokenizer without diacritic folding, tokenize the same way (see docs/scraping.md).

Where it lives: PostgreSQL keeps `search_vector` (a generated tsvector column, GIN-indexed); SQLite keeps the FTS5
table `scraping_app_jobposting_fts` (external content, kept current by triggers). Both are created by migration
0005, with `fts_install_sql`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import BooleanField, FloatField, IntegerField, QuerySet
from django.db.models.expressions import RawSQL

TABLE = "scraping_app_jobposting"
FTS_TABLE = "scraping_app_jobposting_fts"
PG_CONFIG = "simple"
# Ranking reads the title (most) and the company; the description counts for matching only, as PostgreSQL's
# ts_rank over rank_vector does (bm25 weights per column: title, company, description).
FTS5_WEIGHTS = (10.0, 5.0, 0.0)
PG_GIN_INDEX = "scraping_app_jobposting_search_gin"
PG_GIN_INDEX_SQL = f"CREATE INDEX {PG_GIN_INDEX} ON {TABLE} USING gin (search_vector)"
# Relevance's first tier (title or company matches) on its own: migration 0009.
PG_RANK_GIN_INDEX = "scraping_app_jobposting_rank_gin"
PG_RANK_GIN_INDEX_SQL = f"CREATE INDEX {PG_RANK_GIN_INDEX} ON {TABLE} USING gin (rank_vector)"
_WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(r'"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+)')


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # one word, or a phrase

    def websearch(self) -> str:
        # A one-word term "or" is quoted too, or websearch_to_tsquery would read it as the operator.
        return f'"{" ".join(self.words)}"' if len(self.words) > 1 or self.words[0] == "or" else self.words[0]

    def fts5(self) -> str:
        return '"' + " ".join(word.replace('"', '""') for word in self.words) + '"'


@dataclass
class Group:
    """All of `terms` and none of `excluded`."""

    terms: list[Term] = field(default_factory=list)
    excluded: list[Term] = field(default_factory=list)

    def websearch(self) -> str:
        return " ".join([term.websearch() for term in self.terms] + [f"-{term.websearch()}" for term in self.excluded])

    def fts5(self) -> str:
        """FTS5 has a binary NOT only: a group without a positive term has no MATCH expression ("")."""
        if not self.terms:
            return ""
        positive = " AND ".join(term.fts5() for term in self.terms)
        if not self.excluded:
            return f"({positive})"
        return f"(({positive}) NOT ({' OR '.join(term.fts5() for term in self.excluded)}))"


@dataclass
class SearchTree:
    """Any of `groups` (websearch_to_tsquery's reading: `a b or c` is (a and b) or c)."""

    groups: list[Group] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.groups)

    def websearch(self) -> str:
        return " or ".join(group.websearch() for group in self.groups)

    @property
    def excludes(self) -> bool:
        return any(group.excluded for group in self.groups)

    def fts5(self) -> str:
        """One MATCH expression, or "" when a group has no positive term (then each group is its own condition)."""
        parts = [group.fts5() for group in self.groups]
        return " OR ".join(parts) if all(parts) else ""


def _words(text: str) -> tuple[str, ...]:
    return tuple(word.lower() for word in _WORD.findall(text))


def websearch_parse(text: str) -> SearchTree:
    """The tree of a websearch query. Never fails: text that names no word is an empty tree (no text filter).

    As in websearch_to_tsquery, `OR` (any case) splits the query into alternatives and binds looser than the
    implied AND: `senior backend or frontend` is (senior and backend) or frontend. A leading, trailing or doubled
    OR is ignored. `-term` excludes a word or a "quoted phrase" from its alternative. A word such as "node.js" is the
    phrase "node js", as stored text is tokenized. An unclosed quote runs to the end.
    """
    tree = SearchTree()
    group = Group()
    for match in _TOKEN.finditer(text or ""):
        phrase, word = match.group("phrase"), match.group("word")
        if word is not None:
            if word.lower() == "or":
                if group.terms or group.excluded:
                    tree.groups.append(group)
                    group = Group()
                continue
            negated = word.startswith("-")
            words = _words(word)
        else:
            start = match.start()
            negated = start > 0 and text[start - 1] == "-" and (start == 1 or text[start - 2].isspace())
            words = _words(phrase)
        if words:
            (group.excluded if negated else group.terms).append(Term(words))
    if group.terms or group.excluded:
        tree.groups.append(group)
    return tree


def fts_install_sql(vendor: str) -> list[str]:
    """The statements that create the search structures on `vendor` ("postgresql" or "sqlite"); a migration runs
    them. A later migration that makes SQLite rebuild the postings table (Django does, for many field changes)
    drops the table's triggers: it must run `fts_triggers_sql()` again (tests/scraping_app/test_search_migrations
    checks that the triggers exist after every migration)."""
    if vendor == "postgresql":
        def part(column: str, weight: str) -> str:
            return (f"setweight(to_tsvector('{PG_CONFIG}'::regconfig, regexp_replace(coalesce({column}, ''), "
                    f"'[^[:alnum:]]+', ' ', 'g')), '{weight}')")
        return [
            f"ALTER TABLE {TABLE} ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
            f"({part('title', 'A')} || {part('company', 'B')} || {part('description_text', 'C')}) STORED",
            # The rank reads this small vector: search_vector (3 KB of description) is TOASTed, and reading it for
            # each of 100,000 matches of a common word costs seconds; this one stays in the row.
            f"ALTER TABLE {TABLE} ADD COLUMN rank_vector tsvector GENERATED ALWAYS AS "
            f"({part('title', 'A')} || {part('company', 'B')}) STORED",
            PG_GIN_INDEX_SQL,
        ]
    if vendor == "sqlite":
        return [
            f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(title, company, description_text, content='{TABLE}', "
            "content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
            *fts_triggers_sql(),
            f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
        ]
    return []


def fts_triggers_sql() -> list[str]:
    """SQLite: the triggers that keep the FTS5 index current with the postings table (an upsert's DO UPDATE fires
    the update trigger)."""
    new = "new.id, new.title, new.company, new.description_text"
    old = "old.id, old.title, old.company, old.description_text"
    columns = "rowid, title, company, description_text"
    return [
        f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ai AFTER INSERT ON {TABLE} BEGIN "
        f"INSERT INTO {FTS_TABLE}({columns}) VALUES ({new}); END",
        f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ad AFTER DELETE ON {TABLE} BEGIN "
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, {columns}) VALUES ('delete', {old}); END",
        f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_au AFTER UPDATE OF title, company, description_text ON {TABLE} "
        f"BEGIN INSERT INTO {FTS_TABLE}({FTS_TABLE}, {columns}) VALUES ('delete', {old}); "
        f"INSERT INTO {FTS_TABLE}({columns}) VALUES ({new}); END",
    ]


def fts_uninstall_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [f"DROP INDEX IF EXISTS {PG_GIN_INDEX}",
                f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS rank_vector",
                f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS search_vector"]
    if vendor == "sqlite":
        return [*(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{suffix}" for suffix in ("ai", "ad", "au")),
                f"DROP TABLE IF EXISTS {FTS_TABLE}"]
    return []


def postings_text_tiers(*, queryset: QuerySet, tree: SearchTree) -> tuple[QuerySet, QuerySet]:
    """PostgreSQL's relevance order as two lists, each read newest first through the recent index: the matches
    whose title or company match (tier 1, `rank_vector`, GIN-indexed), then those that match in their description
    only (tier 0). Ranking every match instead (ts_rank, then top-N) reads each of a common word's 100,000+ matches
    on every page; a tier read stops after one page of rows.

    A tree without exclusions that matches rank_vector matches search_vector too (title and company come first in
    both, at the same positions), so tier 1 reads the small inline vector alone; with exclusions, the description
    must not name an excluded term, so tier 1 checks search_vector as well."""
    query = f"websearch_to_tsquery('{PG_CONFIG}'::regconfig, %s)"
    text = tree.websearch()
    in_title = f"{TABLE}.rank_vector @@ {query}"
    anywhere = f"{TABLE}.search_vector @@ {query}"
    top = queryset.filter(RawSQL(in_title, [text], output_field=BooleanField()))
    if tree.excludes:
        top = top.filter(RawSQL(anywhere, [text], output_field=BooleanField()))
    rest = queryset.filter(RawSQL(f"{anywhere} AND NOT ({in_title})", [text, text], output_field=BooleanField()))
    return top, rest


def postings_text_search(*, queryset: QuerySet, tree: SearchTree) -> QuerySet:
    """`queryset` narrowed to the postings that match `tree`, annotated with what its relevance sorts by: `tier`
    on PostgreSQL (postings_text_tiers), `rank` (bm25, higher is better) on SQLite."""
    if not tree:
        return queryset
    if connection.vendor == "postgresql":
        query = f"websearch_to_tsquery('{PG_CONFIG}'::regconfig, %s)"
        # `tier` orders the queryset as postings_text_tiers reads it (1: the title or company matches too); a list's
        # pages read the tiers themselves, which is what makes them fast.
        return queryset.filter(RawSQL(f"{TABLE}.search_vector @@ {query}", [tree.websearch()],
                                      output_field=BooleanField())).annotate(
            tier=RawSQL(f"CASE WHEN {TABLE}.rank_vector @@ {query} THEN 1 ELSE 0 END", [tree.websearch()],
                        output_field=IntegerField()))
    if connection.vendor != "sqlite":
        raise NotImplementedError(f"full-text search on {connection.vendor}")
    expression = tree.fts5()
    if expression:
        # Joined to the FTS table (the MATCH drives the query), so bm25() ranks each match. bm25 is lower for
        # better matches: its negation sorts descending like ts_rank.
        weights = ", ".join(str(weight) for weight in FTS5_WEIGHTS)
        queryset = queryset.extra(tables=[FTS_TABLE], where=[  # noqa: S610 - constant SQL, user text is a parameter
            f"{FTS_TABLE}.rowid = {TABLE}.id", f"{FTS_TABLE} MATCH %s"], params=[expression])
        return queryset.annotate(rank=RawSQL(f"-bm25({FTS_TABLE}, {weights})", [], output_field=FloatField()))
    # An alternative with exclusions only ("-django", "python or -java"): one condition per alternative, unranked.
    matching = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"
    conditions, params = [], []
    for group in tree.groups:
        parts = []
        if group.terms:
            parts.append(f"{TABLE}.id IN ({matching})")
            params.append(" AND ".join(term.fts5() for term in group.terms))
        for term in group.excluded:
            parts.append(f"{TABLE}.id NOT IN ({matching})")
            params.append(term.fts5())
        conditions.append("(" + " AND ".join(parts) + ")")
    condition = RawSQL(" OR ".join(conditions), params, output_field=BooleanField())
    return queryset.filter(condition).annotate(rank=RawSQL("0.0", [], output_field=FloatField()))
