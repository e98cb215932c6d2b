"""Reads. The API, admin and commands all go through these."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, Count, Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from scheduler_app import selectors as scheduler_selectors
from scraping_app.models import (
    ApplicationStageChange,
    AutomationRule,
    Contact,
    FollowUp,
    Interview,
    JobApplication,
    JobPosting,
    JobSource,
    SavedSearch,
    Team,
)
from scraping_app.saved_search_filters import saved_search_filters_load, saved_search_search_kwargs
from scraping_app.search import TABLE, postings_text_search, postings_text_tiers, websearch_parse
from scraping_app.tracker import application_job


def team_get(*, team_id: int) -> Team | None:
    return Team.objects.filter(pk=team_id).first()


def teams_for_user(*, user) -> QuerySet[Team]:
    """Staff see every team; others the teams they belong to; an anonymous user none."""
    teams = Team.objects.all()
    if not user.is_authenticated:
        return teams.none()
    return teams if user.is_staff else teams.filter(members=user)


def team_for_user(*, user, team_id: int) -> Team | None:
    """The team if it exists and the user may use it, else None (the API's 400 "Unknown team.")."""
    return teams_for_user(user=user).filter(pk=team_id).first()


def team_member_emails(*, team: Team) -> list[str]:
    """The team members' email addresses (members without one left out): where reminders and digests go."""
    return sorted({email for email in team.members.values_list("email", flat=True) if email})


def saved_searches_active(*, team: Team | None) -> QuerySet[SavedSearch]:
    """In the order a scrape runs them: the least recently scraped first (never scraped before all), then by id,
    so a run whose time budget runs out does not skip the same searches every time."""
    searches = (SavedSearch.objects.filter(active=True).prefetch_related("sources")
                .order_by(F("last_scraped_at").asc(nulls_first=True), "id"))
    return searches if team is None else searches.filter(team=team)


def saved_searches_count(*, team: Team, exclude_id: int | None = None) -> int:
    """How many saved searches (active or not) the team keeps, leaving out `exclude_id`."""
    searches = SavedSearch.objects.filter(team=team)
    return (searches if exclude_id is None else searches.exclude(pk=exclude_id)).count()


def saved_searches_for_digest(*, team: Team | None, alert: str | None,
                              search_ids: Iterable[int] | None = None) -> QuerySet[SavedSearch]:
    """The active saved searches a digest covers: those with `alert` as their mode (None: any mode, for an
    operator's "send now"), of `team` (None: every team), among `search_ids` (None: all)."""
    searches = SavedSearch.objects.filter(active=True).select_related("team").order_by("team_id", "id")
    if alert is not None:
        searches = searches.filter(alert=alert)
    if team is not None:
        searches = searches.filter(team=team)
    if search_ids is not None:
        searches = searches.filter(pk__in=list(search_ids))
    return searches


def saved_search_new_matches(*, search: SavedSearch, until: datetime) -> QuerySet[JobPosting]:
    """The postings matching all of `search`'s filters (keyword, location and `filters`) first seen after its
    last digest (never alerted: after it was created) and at or before `until`, canonical ones only (a duplicate
    copies a posting listed in its own right), newest first. Raises ValueError for stored filters that are not
    valid (saved_search_filters_load)."""
    since = search.last_alerted_at or search.created_at
    kwargs = saved_search_search_kwargs(keyword=search.keyword, location=search.location, filters=search.filters)
    return (postings_search(**kwargs)
            .filter(first_seen_at__gt=since, first_seen_at__lte=until, duplicate_of__isnull=True)
            .order_by("-first_seen_at", "-id"))


SCRAPE_JOB_ID = "scrape_jobs_task"


def postings_settled_until(*, now: datetime, exclude_run_id: int | None = None) -> datetime:
    """The latest first_seen_at a digest may read up to: `now`, or the start of a scrape run still RUNNING (other
    than `exclude_run_id`, the reader's own run), whichever is earlier. A posting is stamped before its scrape's
    transaction commits, so one not yet visible is stamped after that start: the next digest reads it."""
    running_since = scheduler_selectors.job_runs_running_since(job_id=SCRAPE_JOB_ID, exclude_run_id=exclude_run_id)
    return now if running_since is None else min(now, running_since)


def postings_ids_filtered(*, ids: list[int], filters: dict) -> list[int]:
    """Those of `ids` (in their order) that match a saved search's stored `filters` (the list filters a board
    cannot apply: salary, employment type, seniority, tags...). Raises ValueError for invalid stored filters."""
    kwargs = saved_search_filters_load(filters)
    if not kwargs or not ids:
        return list(ids)
    kept = set(postings_search(**kwargs).filter(pk__in=ids).values_list("pk", flat=True))
    return [pk for pk in ids if pk in kept]


def sources_enabled() -> QuerySet[JobSource]:
    return JobSource.objects.filter(enabled=True)


def source_list() -> QuerySet[JobSource]:
    return JobSource.objects.order_by("id")


def postings_matching(*, queryset: QuerySet[JobPosting] | None = None, keywords: Iterable[str] = (),
                      locations: Iterable[str] = (), exclude_keywords: Iterable[str] = ()) -> QuerySet[JobPosting]:
    """The one keyword and location filter of stored postings (the postings list, the scrape's stored fallback
    and automation rules all use it).

    A keyword matches the title, company or description, case-insensitively; a location matches the posting's
    location case-insensitively, and "remote" matches every posting with `is_remote`. A posting is kept when it
    matches any of `keywords` (when given), any of `locations` (when given), and none of `exclude_keywords`.
    """
    postings = JobPosting.objects.all() if queryset is None else queryset
    keywords, locations = list(keywords), list(locations)
    if keywords:
        postings = postings.filter(_any_of(_keyword_q(word) for word in keywords))
    if locations:
        postings = postings.filter(_any_of(_location_q(place) for place in locations))
    for word in exclude_keywords:
        postings = postings.exclude(_keyword_q(word))
    return postings


def _keyword_q(keyword: str) -> Q:
    return Q(title__icontains=keyword) | Q(company__icontains=keyword) | Q(description_text__icontains=keyword)


def _location_q(location: str) -> Q:
    if location.strip().lower() == "remote":
        return Q(is_remote=True)
    return Q(location__icontains=location.strip())


def _any_of(parts: Iterable[Q]) -> Q:
    combined = Q(pk__in=[])  # matches nothing: the identity of OR
    for part in parts:
        combined |= part
    return combined


def postings_list(*, keyword: str | None = None, location: str | None = None, remote: bool | None = None,
                  source: str | None = None, posted_after: datetime | None = None) -> QuerySet[JobPosting]:
    # Newest first; postings without a date last on every database (PostgreSQL sorts NULLs first by default).
    postings = JobPosting.objects.select_related("source").order_by(F("posted_at").desc(nulls_last=True), "-id")
    postings = postings_matching(queryset=postings, keywords=[keyword] if keyword else [],
                                 locations=[location] if location else [])
    if remote is not None:
        postings = postings.filter(is_remote=remote)
    if source:
        is_id = source.isascii() and source.isdigit() and len(source) <= 18  # "²".isdigit() is true too
        postings = postings.filter(Q(source__pk=int(source)) if is_id else
                                   Q(source__kind__iexact=source) | Q(source__name__iexact=source))
    if posted_after is not None:
        postings = postings.filter(posted_at__gte=posted_after)
    return postings


# What a list shows (PostingSerializer), and nothing more: no description_text, no raw.
POSTING_LIST_FIELDS = ("id", "source__name", "source__kind", "source_job_id", "title", "company", "location",
                       "is_remote", "employment_type", "employment_type_normalized", "seniority", "salary_min",
                       "salary_max", "salary_currency", "salary_period", "salary_annual_min", "salary_annual_max",
                       "tags", "url", "apply_url", "posted_at", "first_seen_at", "last_seen_at", "fingerprint",
                       "company_logo_url", "duplicate_of")
# A posting's copies on other boards (its `other_sources`): one query per page, these fields only.
OTHER_SOURCE_FIELDS = ("id", "duplicate_of", "source__name", "url", "apply_url")


def postings_with_other_sources(queryset: QuerySet[JobPosting]) -> QuerySet[JobPosting]:
    # Ordered as the duplicate_of index reads (ORDER BY id alone makes SQLite scan the table by rowid)
    copies = JobPosting.objects.select_related("source").only(*OTHER_SOURCE_FIELDS).order_by("duplicate_of", "id")
    return queryset.prefetch_related(Prefetch("duplicates", queryset=copies))
SORTS = ("relevance", "recent", "salary")


@dataclass(frozen=True)
class SortKey:
    """A keyset sort: every part descending; a nullable part puts its NULLs last; `id` ends every key. A tiered
    key (relevance on PostgreSQL) is `tier` then the recent key: postings_page reads its tiers one after another."""

    name: str
    parts: tuple[tuple[str, bool], ...]  # (attribute, nullable)
    tiered: bool = False


SORT_KEYS = {
    "relevance": SortKey("relevance", (("rank", False), ("id", False))),
    "recent": SortKey("recent", (("posted_at", True), ("id", False))),
    "salary": SortKey("salary", (("salary_annual_max", True), ("id", False))),
}
# PostgreSQL's relevance (search.postings_text_tiers): title or company matches first, then description matches,
# each newest first. SQLite ranks by bm25 over the same columns (SORT_KEYS["relevance"]).
RELEVANCE_TIERED = SortKey("relevance", (("tier", False), ("posted_at", True), ("id", False)), tiered=True)
# A tier read walks the recent index and checks each row's vector until a page is full; when the planner's
# estimates say that walk would check more rows than this, the tier is read by its GIN index and sorted instead
# (the planner cannot see that "matches, but not in the title" is rare: its two conditions are correlated).
TIER_WALK_ROWS_MAX = 10_000
# The count is exact up to POSTINGS_COUNT_CAP; when the planner estimates more than this many times the cap, it is
# not counted at all (counting a phrase's first 1,000 matches reads 25,000 vectors) and is labelled estimated.
COUNT_ESTIMATE_FACTOR = 3


def postings_sort_key(*, sort: str | None, text: str | None) -> SortKey:
    """The sort a list uses: relevance when it searches text (unless told otherwise), else recent."""
    if sort == "relevance" or sort is None:
        if not websearch_parse(text or ""):
            return SORT_KEYS["recent"]
        return RELEVANCE_TIERED if connection.vendor == "postgresql" else SORT_KEYS["relevance"]
    return SORT_KEYS[sort]


def postings_search(*, q: str | None = None, keyword: str | None = None, location: str | None = None,
                    remote: bool | None = None, source: str | None = None, posted_after: datetime | None = None,
                    posted_within_hours: int | None = None, employment_type: Iterable[str] = (),
                    salary_min: Decimal | None = None, seniority: Iterable[str] = (), company: str | None = None,
                    tags: Iterable[str] = (), sort: str | None = None,
                    duplicates: bool = False) -> QuerySet[JobPosting]:
    """The postings list (the API's list and CSV export): full-text `q` (`keyword` is its older name) in the
    websearch language of scraping_app.search, the filters, and the sort's order (postings_sort_key), with only
    the listed fields selected. Pages are cut by postings_page, never by offset. One posting per real job
    (the canonical ones, each with its copies prefetched) unless `duplicates`."""
    postings = postings_with_other_sources(JobPosting.objects.select_related("source").only(*POSTING_LIST_FIELDS))
    if not duplicates:
        postings = postings.filter(duplicate_of__isnull=True)
    text = q if q is not None else keyword
    postings = postings_text_search(queryset=postings, tree=websearch_parse(text or ""))
    if location:
        postings = postings.filter(_location_q(location))
    if remote is not None:
        postings = postings.filter(is_remote=remote)
    if source:
        postings = postings.filter(_source_q(source))
    if posted_after is not None:
        postings = postings.filter(posted_at__gte=posted_after)
    if posted_within_hours is not None:
        postings = postings.filter(posted_at__gte=timezone.now() - timedelta(hours=posted_within_hours))
    if employment_type:
        postings = postings.filter(employment_type_normalized__in=list(employment_type))
    if seniority:
        postings = postings.filter(seniority__in=list(seniority))
    if salary_min is not None:  # the top of the range reaches it (a one-sided range has one amount at both ends)
        postings = postings.filter(salary_annual_max__gte=salary_min)
    if company:  # case-insensitive prefix: "acme" finds "Acme", "Acme Inc." and "ACME GmbH"
        postings = postings.filter(company__istartswith=company)
    if tags:
        postings = postings.filter(_tags_any_q(list(tags)))
    return postings.order_by(*_ordering(postings_sort_key(sort=sort, text=text), backwards=False))


def _source_q(source: str) -> Q:
    is_id = source.isascii() and source.isdigit() and len(source) <= 18  # "²".isdigit() is true too
    return Q(source__pk=int(source)) if is_id else Q(source__kind__iexact=source) | Q(source__name__iexact=source)


def _tags_any_q(tags: list[str]) -> RawSQL:
    """Any of `tags`, case-insensitively, in the posting's JSON list (JSONField's has_any_keys reads object keys
    on SQLite, not list items)."""
    wanted = [tag.lower() for tag in tags]
    marks = ", ".join(["%s"] * len(wanted))
    if connection.vendor == "postgresql":
        sql = (f"EXISTS (SELECT 1 FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof({TABLE}.tags) = 'array' "
               f"THEN {TABLE}.tags ELSE '[]'::jsonb END) AS tag WHERE lower(tag) IN ({marks}))")
    else:
        sql = (f"EXISTS (SELECT 1 FROM json_each(CASE WHEN json_type({TABLE}.tags) = 'array' THEN {TABLE}.tags "
               f"ELSE '[]' END) WHERE json_each.type = 'text' AND lower(json_each.value) IN ({marks}))")
    return RawSQL(sql, wanted, output_field=BooleanField())


def _ordering(key: SortKey, *, backwards: bool) -> list:
    """Descending with NULLs last; backwards (a `previous` page read from its end), ascending with NULLs first."""
    order = []
    for name, nullable in key.parts:
        expression = F(name)
        if backwards:
            order.append(expression.asc(nulls_first=True) if nullable else expression.asc())
        else:
            order.append(expression.desc(nulls_last=True) if nullable else expression.desc())
    return order


def postings_keyset_segments(*, queryset: QuerySet[JobPosting], key: SortKey, values: list | None,
                             backwards: bool = False) -> list[QuerySet[JobPosting]]:
    """The rows after the row whose sort key is `values` in the list's order (before it, nearest first,
    `backwards`), as querysets to read one after another. Each one is a single range of the key's index (a
    `<=` bound the index starts at), never an OR with "or NULL", which the index cannot start at and would walk from
    its first row on every page: NULLs sort last, so the undated rows are a segment of their own."""
    (name, nullable), _ = key.parts
    if values is None:
        return [queryset.order_by(*_ordering(key, backwards=True)) if backwards else queryset]
    value, row_id = values
    if not backwards:
        if value is None:
            return [queryset.filter(**{f"{name}__isnull": True, "id__lt": row_id})]
        after = queryset.filter(Q(**{f"{name}__lte": value}),
                                Q(**{f"{name}__lt": value}) | Q(**{name: value, "id__lt": row_id}))
        return [after, queryset.filter(**{f"{name}__isnull": True})] if nullable else [after]
    if value is None:
        segments = [queryset.filter(**{f"{name}__isnull": True, "id__gt": row_id}),
                    queryset.filter(**{f"{name}__isnull": False})]
    else:
        segments = [queryset.filter(Q(**{f"{name}__gte": value}),
                                    Q(**{f"{name}__gt": value}) | Q(**{name: value, "id__gt": row_id}))]
    return [segment.order_by(*_ordering(key, backwards=True)) for segment in segments]


def postings_page(*, queryset: QuerySet[JobPosting], key: SortKey, size: int, values: list | None = None,
                  backwards: bool = False, filters: dict | None = None, with_copies: bool = True) -> list[JobPosting]:
    """Up to `size` rows of `queryset` in `key`'s order after the row whose key is `values` (before it, nearest
    first, `backwards`; from the start without `values`). A tiered key reads its tiers from `filters`, the list's
    validated filters (postings_search's arguments), since each tier is its own query; `with_copies` False leaves
    out their prefetch of each row's copies (as `queryset` does)."""
    if not key.tiered:
        return _segments_read(postings_keyset_segments(queryset=queryset, key=key, values=values,
                                                       backwards=backwards), size=size)
    filters = dict(filters or {})
    tree = websearch_parse(filters.pop("q", None) or filters.pop("keyword", None) or "")
    filters.pop("sort", None)
    base = postings_search(**filters)  # newest first
    if not with_copies:
        base = base.prefetch_related(None)
    top, rest = postings_text_tiers(queryset=base, tree=tree)
    recent = SORT_KEYS["recent"]
    tiers = [(1, top), (0, rest)]
    if backwards:
        tiers.reverse()
    rows: list[JobPosting] = []
    for tier, part in tiers:
        if values is not None and ((tier > values[0]) if not backwards else (tier < values[0])):
            continue  # a tier wholly before the cursor
        segments = postings_keyset_segments(queryset=part, key=recent, backwards=backwards,
                                            values=values[1:] if values is not None and tier == values[0] else None)
        wanted = size - len(rows)
        costly = tier == 0 and _walk_is_costly(base=base, top=top, size=wanted, tree=tree)
        found = _segments_read(segments, size=wanted, walk_is_costly=costly)
        for row in found:
            row.tier = tier
        rows += found
        if len(rows) >= size:
            break
    return rows


def _segments_read(segments: list[QuerySet[JobPosting]], *, size: int,
                   walk_is_costly: bool = False) -> list[JobPosting]:
    rows: list[JobPosting] = []
    for segment in segments:
        rows += _tier_read(part=segment, size=size - len(rows), walk_is_costly=walk_is_costly)
        if len(rows) >= size:
            break
    return rows


def _tier_read(*, part: QuerySet[JobPosting], size: int, walk_is_costly: bool) -> list[JobPosting]:
    if not walk_is_costly:
        return list(part[:size])
    # SET LOCAL ends with the transaction (or the savepoint, if the read fails); set back at once after the read,
    # so a caller's own transaction plans its next queries as usual.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_indexscan = off")
        rows = list(part[:size])
        cursor.execute("SET LOCAL enable_indexscan = on")
    return rows


def _walk_is_costly(*, base: QuerySet[JobPosting], top: QuerySet[JobPosting], size: int, tree) -> bool:
    """Whether walking the recent index for description-only matches would check more than TIER_WALK_ROWS_MAX
    rows: the rows with the list's other filters, divided by the estimated description-only matches."""
    rows = _estimated_rows(base)
    matches = _estimated_rows(postings_text_search(queryset=base, tree=tree))
    description_only = max(matches - _estimated_rows(top), 0)
    return size * rows > TIER_WALK_ROWS_MAX * max(description_only, 1)


def _postings_analyzed() -> bool:
    """Whether PostgreSQL has statistics for the postings table (ANALYZE or autovacuum has run): before that, its
    row estimates are guesses from the table's size, and a count is made, not estimated."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [TABLE])
        row = cursor.fetchone()
    return row is not None and row[0] >= 0


def _estimated_rows(queryset: QuerySet) -> int:
    """The planner's estimate of the rows `queryset` matches (PostgreSQL): planning only, nothing is read."""
    plan = json.loads(queryset.order_by().values("pk").explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def postings_iterate(*, queryset: QuerySet[JobPosting], key: SortKey, chunk_size: int = 500,
                     filters: dict | None = None):
    """Every row of `queryset` (ordered by `key`), read by keyset in chunks: memory holds one chunk, and no query
    stays open between chunks (a streamed export may take minutes). Each row gets `other_source_urls`, its copies'
    links, read with one query per chunk (Django's prefetch would leave reference cycles that outlive the chunk)."""
    queryset = queryset.prefetch_related(None)
    values = None
    while True:
        rows = postings_page(queryset=queryset, key=key, size=chunk_size, values=values, filters=filters,
                             with_copies=False)
        copies: dict[int, list[str]] = {}
        for canonical_id, url in (JobPosting.objects.filter(duplicate_of_id__in=[row.pk for row in rows])
                                  .order_by("duplicate_of_id", "id").values_list("duplicate_of_id", "url")):
            copies.setdefault(canonical_id, []).append(url)
        for row in rows:
            row.other_source_urls = copies.get(row.pk, [])
        yield from rows
        if len(rows) < chunk_size:
            return
        values = [getattr(rows[-1], name) for name, _ in key.parts]


@dataclass(frozen=True)
class PostingsCount:
    count: int
    capped: bool  # there are more matches than `count`
    estimated: bool  # not counted: the planner estimates far more matches than the cap


def postings_count(*, queryset: QuerySet[JobPosting], cap: int) -> PostingsCount:
    """Matches, counted up to `cap` + 1 rows, so a common word never counts the whole store. On PostgreSQL, when
    the planner estimates more than COUNT_ESTIMATE_FACTOR times `cap` matches, nothing is counted: the count is
    `cap`, capped, and labelled estimated."""
    if (connection.vendor == "postgresql" and _postings_analyzed()
            and _estimated_rows(queryset) > COUNT_ESTIMATE_FACTOR * cap):
        return PostingsCount(count=cap, capped=True, estimated=True)
    found = queryset.order_by().values("pk")[:cap + 1].count()  # values: no rank computed for a count
    return PostingsCount(count=min(found, cap), capped=found > cap, estimated=False)


def posting_get(*, posting_id: int) -> JobPosting | None:
    return postings_with_other_sources(JobPosting.objects.select_related("source")).filter(pk=posting_id).first()


def postings_by_ids(*, ids: list[int]) -> list[JobPosting]:
    """In the given order."""
    found = JobPosting.objects.select_related("source").in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]


def posting_summary(*, posting: JobPosting) -> dict:
    """The JSON a scrape run keeps in its result (and the scrape endpoint returns)."""
    return {
        "id": posting.pk,
        "source": posting.source.name,
        "source_job_id": posting.source_job_id,
        "title": posting.title,
        "company": posting.company,
        "location": posting.location,
        "is_remote": posting.is_remote,
        "employment_type": posting.employment_type,
        "salary_min": None if posting.salary_min is None else str(posting.salary_min),
        "salary_max": None if posting.salary_max is None else str(posting.salary_max),
        "salary_currency": posting.salary_currency,
        "salary_period": posting.salary_period,
        "url": posting.url,
        "apply_url": posting.apply_url,
        "posted_at": posting.posted_at.isoformat() if posting.posted_at else None,
    }


def _team_scoped(queryset: QuerySet, user) -> QuerySet:
    return queryset if user.is_staff else queryset.filter(team__members=user).distinct()


def saved_searches_for_user(*, user, team: Team | None = None) -> QuerySet[SavedSearch]:
    searches = _team_scoped(SavedSearch.objects.prefetch_related("sources"), user)
    return searches if team is None else searches.filter(team=team)


def job_applications_for_user(*, user, team: Team | None = None,
                              statuses: Iterable[str] | None = None) -> QuerySet[JobApplication]:
    """The user's teams' applications (staff: all), newest first; `statuses`: in any of these stages."""
    applications = _team_scoped(JobApplication.objects.select_related("posting", "posting__source"), user)
    if statuses:
        applications = applications.filter(status__in=list(statuses))
    return applications if team is None else applications.filter(team=team)


def job_application_details_for_user(*, user) -> QuerySet[JobApplication]:
    """As job_applications_for_user, with each one's history, contacts and interviews (one query each)."""
    return job_applications_for_user(user=user).prefetch_related(
        Prefetch("stage_changes", queryset=ApplicationStageChange.objects.select_related("changed_by")),
        "contacts", "interviews")


def job_application_for_user(*, user, application_id: int) -> JobApplication | None:
    return job_applications_for_user(user=user).filter(pk=application_id).first()


def application_contacts(*, application: JobApplication) -> QuerySet[Contact]:
    return Contact.objects.filter(application=application)


def application_interviews(*, application: JobApplication) -> QuerySet[Interview]:
    return Interview.objects.filter(application=application)


@dataclass(frozen=True)
class BoardCard:
    application: JobApplication
    title: str
    company: str
    days_in_stage: int


@dataclass(frozen=True)
class BoardColumn:
    stage: str
    label: str
    count: int  # every application in the stage; `cards` shows the most recently moved, up to the board's limit
    cards: list[BoardCard]


def applications_board(*, team: Team | None = None, limit: int = 100,
                       now: datetime | None = None) -> list[BoardColumn]:
    """The tracker's board: a column per stage (pipeline order), its count, and its cards, the most recently
    moved first. For the admin (staff): every team, or `team`'s."""
    now = now or timezone.now()
    applications = JobApplication.objects.select_related("posting", "team")
    if team is not None:
        applications = applications.filter(team=team)
    counts = dict(applications.order_by().values_list("status").annotate(n=Count("id")))
    columns = []
    for stage, label in JobApplication.Status.choices:
        rows = applications.filter(status=stage).order_by(
            F("status_changed_at").desc(nulls_last=True), "-id")[:limit] if counts.get(stage) else []
        cards = []
        for application in rows:
            job = application_job(application=application)
            since = application.status_changed_at or application.created_at
            cards.append(BoardCard(application=application, title=job.title, company=job.company,
                                   days_in_stage=max((now - since).days, 0)))
        columns.append(BoardColumn(stage=stage, label=label, count=counts.get(stage, 0), cards=cards))
    return columns


def automation_rules_for_user(*, user, team: Team | None = None) -> QuerySet[AutomationRule]:
    rules = _team_scoped(AutomationRule.objects.all(), user)
    return rules if team is None else rules.filter(team=team)


# -- follow-ups ------------------------------------------------------------------------------------------------------
FOLLOW_UP_STATUSES = ("due", "upcoming", "done")


def follow_up_status(*, follow_up: FollowUp, now: datetime | None = None) -> str:
    """done (marked done), due (its date has come) or upcoming (snoozed, or not yet due)."""
    if follow_up.done_at is not None:
        return "done"
    return "due" if follow_up.due_at <= (now or timezone.now()) else "upcoming"


def follow_ups_for_user(*, user, team: Team | None = None, application_id: int | None = None,
                        status: str | None = None, now: datetime | None = None) -> QuerySet[FollowUp]:
    """The follow-ups of the user's teams' applications (staff: all), the soonest due first (then by id).
    `status`: due (not done, due_at <= now), upcoming (not done, due_at > now) or done."""
    now = now or timezone.now()
    follow_ups = FollowUp.objects.select_related("application", "application__posting").order_by("due_at", "id")
    if not user.is_staff:
        follow_ups = follow_ups.filter(application__team__in=teams_for_user(user=user))
    if team is not None:
        follow_ups = follow_ups.filter(application__team=team)
    if application_id is not None:
        follow_ups = follow_ups.filter(application_id=application_id)
    if status == "done":
        follow_ups = follow_ups.filter(done_at__isnull=False)
    elif status == "due":
        follow_ups = follow_ups.filter(done_at__isnull=True, due_at__lte=now)
    elif status == "upcoming":
        follow_ups = follow_ups.filter(done_at__isnull=True, due_at__gt=now)
    return follow_ups


def follow_up_for_user(*, user, follow_up_id: int) -> FollowUp | None:
    """The follow-up if it belongs to one of the user's teams (staff: any), else None (the API's 404)."""
    return follow_ups_for_user(user=user).filter(pk=follow_up_id).first()


# -- automation rules ------------------------------------------------------------------------------------------------
# Postings are stamped first_seen_at before their transaction commits; a rule looks back this far so a scrape that
# committed just after its last run is not missed (one application per team and posting keeps the overlap harmless).
AUTOMATION_LATE_COMMIT_GRACE = timedelta(minutes=10)
# Newest first: a capped first run shortlists the newest matches.
AUTOMATION_ORDER = (F("posted_at").desc(nulls_last=True), F("first_seen_at").desc(), F("id").desc())


@dataclass(frozen=True)
class AutomationPlan:
    """What a rule's next run would do. The run (services.automation) and the preview (the API) both read it."""

    rule: AutomationRule
    matches: QuerySet[JobPosting]  # every posting the run would match, newest first, annotated `tracked`
    cap: int | None  # the most applications the run creates: AUTOMATION_FIRST_RUN_CAP on a first run, else None

    @property
    def first_run(self) -> bool:
        return self.rule.last_run_at is None

    @property
    def untracked(self) -> QuerySet[JobPosting]:
        """The matches the team has no application for yet: what the run would shortlist, newest first."""
        return self.matches.filter(tracked=False)

    def shortlist_ids(self) -> list[int]:
        """The postings the run shortlists: the newest untracked matches, up to the cap (none without
        auto_shortlist)."""
        if not self.rule.auto_shortlist:
            return []
        ids = self.untracked.values_list("pk", flat=True)
        return list(ids if self.cap is None else ids[:self.cap])


def automation_rule_candidates(*, rule: AutomationRule) -> QuerySet[JobPosting]:
    """The postings `rule` matches among those first seen since its last run (all of them on its first run),
    newest first. Canonical postings only: a job cross-posted to several boards is matched once. A `min_salary` is
    annual in SALARY_BASE_CURRENCY and compares with the posting's normalised annual salary (the top of its range),
    so hourly and yearly pay, and other currencies, compare like with like; a posting without a normalised salary does
    not match a rule with a `min_salary`."""
    postings = JobPosting.objects.filter(duplicate_of__isnull=True)
    if rule.last_run_at is not None:
        postings = postings.filter(first_seen_at__gt=rule.last_run_at - AUTOMATION_LATE_COMMIT_GRACE)
    postings = postings_matching(queryset=postings, keywords=rule.include_keywords or [],
                                 locations=rule.locations or [], exclude_keywords=rule.exclude_keywords or [])
    if rule.remote_only:
        postings = postings.filter(is_remote=True)
    if rule.min_salary is not None:
        postings = postings.filter(salary_annual_max__gte=rule.min_salary)
    return postings.order_by(*AUTOMATION_ORDER)


def automation_first_run_cap() -> int | None:
    """settings.AUTOMATION_FIRST_RUN_CAP; 0 (or less) means no cap."""
    cap = int(getattr(settings, "AUTOMATION_FIRST_RUN_CAP", 50) or 0)
    return cap if cap > 0 else None


def automation_rule_plan(*, rule: AutomationRule) -> AutomationPlan:
    # tracked: the team has an application for this posting or for any copy of its job
    tracked = JobApplication.objects.filter(Q(posting_id=OuterRef("pk")) | Q(posting__duplicate_of_id=OuterRef("pk")),
                                            team_id=rule.team_id)
    matches = automation_rule_candidates(rule=rule).annotate(tracked=Exists(tracked))
    return AutomationPlan(rule=rule, matches=matches, cap=automation_first_run_cap() if rule.last_run_at is None
                          else None)


@dataclass(frozen=True)
class AutomationPreview:
    rule: AutomationRule
    first_run: bool
    matched: int
    already_tracked: int
    would_shortlist: int
    cap: int | None
    capped: bool
    left_out: int
    postings: list[JobPosting]  # the first `limit` matches, newest first, each with `tracked`


def automation_rule_preview(*, rule: AutomationRule, limit: int = 20) -> AutomationPreview:
    """What the rule's next run would do, from the plan the run itself uses; nothing is written."""
    plan = automation_rule_plan(rule=rule)
    matched = plan.matches.count()
    untracked = plan.untracked.count()
    wanted = untracked if rule.auto_shortlist else 0
    would = wanted if plan.cap is None else min(wanted, plan.cap)
    return AutomationPreview(rule=rule, first_run=plan.first_run, matched=matched, already_tracked=matched - untracked,
                             would_shortlist=would, cap=plan.cap, capped=would < wanted, left_out=wanted - would,
                             postings=list(postings_with_other_sources(plan.matches.select_related("source"))[:limit]))
