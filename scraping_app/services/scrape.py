"""The scrape: saved searches (or one keyword search) across the enabled sources.

Boards are fetched concurrently in worker threads that only do HTTP and parsing; this (the job's) thread
reserves politeness budgets, upserts each board's postings as they arrive (through the job's fenced transaction)
and records every board's outcome. One board failing makes the run PARTIAL and never loses the others.

A run spends at most SCRAPE_RUN_BUDGET_SECONDS on its searches, plus the page each board is reading when the
budget runs out: no search and no board page starts after the deadline. Searches left over are skipped (named in
the result and in a warning; the run ends PARTIAL); what was stored stays. The least recently scraped searches run
first, so the next run starts with the ones skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from scheduler_app import tracing
from scheduler_app.context import JobCancelled, current_job_context
from scheduler_app.job_wrapper import InvalidJobParams
from scraping_app import selectors
from scraping_app.models import JobSource, SavedSearch, Team
from scraping_app.services.alerts import saved_search_digests_send
from scraping_app.services.budget import source_budget_record, source_budget_reserve
from scraping_app.services.common import job_atomic
from scraping_app.services.postings import postings_upsert
from scraping_app.sources import FetchResult, SearchQuery, source_class
from scraping_app.sources.http import BoardError, Fetcher, RunBudgetExhausted

logger = logging.getLogger("scraping_app")

KEYWORD_MAX_LENGTH = 100
LOCATION_MAX_LENGTH = 100


def scrape_params_validate(params: dict) -> dict:
    """The job's parameters, from any trigger (API, CLI strings, schedule). Raises InvalidJobParams."""
    allowed = {"keyword", "location", "limit"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InvalidJobParams(f"Unknown parameter(s): {', '.join(unknown)}", {k: "unknown parameter" for k in unknown})
    errors: dict[str, str] = {}
    out: dict = {}
    for name, max_length in (("keyword", KEYWORD_MAX_LENGTH), ("location", LOCATION_MAX_LENGTH)):
        value = params.get(name)
        if value is None:
            continue
        value = str(value).strip()
        if not value:
            errors[name] = "may not be empty"
        elif len(value) > max_length:
            errors[name] = f"at most {max_length} characters"
        else:
            out[name] = value
    try:
        out["limit"] = int(params.get("limit", 25))
        if not 1 <= out["limit"] <= 100:
            errors["limit"] = "must be between 1 and 100"
    except (TypeError, ValueError):
        errors["limit"] = "must be an integer"
    if errors:
        raise InvalidJobParams("; ".join(f"{k}: {v}" for k, v in errors.items()), errors)
    return out


@dataclass
class SourceOutcome:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    fetched: int = 0
    requests: int = 0
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    over_budget: str | None = None
    served_from_store: int = 0

    def as_dict(self) -> dict:
        data = {"created": self.created, "updated": self.updated, "skipped": self.skipped, "fetched": self.fetched,
                "requests": self.requests}
        for name in ("error", "over_budget"):
            if getattr(self, name):
                data[name] = getattr(self, name)
        if self.over_budget:
            data["served_from_store"] = self.served_from_store
        if self.notes:
            data["notes"] = self.notes
        return data


@dataclass(frozen=True)
class _BoardJob:
    """What a worker thread needs: plain values only, no model instance (workers never touch the database)."""

    kind: str
    name: str
    base_url: str
    params: dict
    min_interval_seconds: float
    max_requests: int | None
    deadline: float | None = None


@dataclass(frozen=True)
class _Search:
    query: SearchQuery
    source_ids: list[int] | None  # None: every enabled source
    saved_search_id: int | None = None  # None: the one keyword search
    filters: dict = field(default_factory=dict)  # the saved search's other list filters (a board cannot apply them)

    def as_dict(self) -> dict:
        return {"keyword": self.query.keyword, "location": self.query.location, "limit": self.query.limit}

    def label(self) -> str:
        return f"#{self.saved_search_id} {self.query.keyword} in {self.query.location or 'anywhere'}"


def scrape_run(*, keyword: str | None, location: str | None, limit: int, team: Team | None = None) -> dict:
    """Run one keyword search, or the team's (or, unscoped, every team's) active saved searches, within the
    run's time budget (SCRAPE_RUN_BUDGET_SECONDS)."""
    ctx = current_job_context()
    budget_seconds = float(settings.SCRAPE_RUN_BUDGET_SECONDS)
    deadline = time.monotonic() + budget_seconds
    if keyword:
        searches = [_Search(query=SearchQuery(keyword=keyword, location=location, limit=limit), source_ids=None)]
    else:
        searches = [_Search(query=SearchQuery(keyword=s.keyword, location=s.location or None, limit=s.limit),
                            source_ids=[source.pk for source in s.sources.all()] or None, saved_search_id=s.pk,
                            filters=s.filters or {})
                    for s in selectors.saved_searches_active(team=team)]
    if not searches:
        _warn(ctx, "Nothing to scrape: no keyword given and no active saved searches.")
    outcomes: dict[str, SourceOutcome] = {}
    posting_ids: list[int] = []
    ran: list[_Search] = []
    skipped: list[_Search] = []
    for index, search in enumerate(searches):
        if time.monotonic() >= deadline:
            skipped = searches[index:]
            break
        query = search.query
        logger.info("Starting scrape for %s in %s", query.keyword, query.location or "anywhere")
        sources = selectors.sources_enabled()
        if search.source_ids is not None:
            sources = sources.filter(pk__in=search.source_ids)
        sources = list(sources)
        if not sources:
            _warn(ctx, "No enabled job sources: enable one with `manage.py sources enable ID` or in the admin.")
        before = _work_done(outcomes)
        found = sources_scrape(query=query, sources=sources, outcomes=outcomes, deadline=deadline)
        if sources and _work_done(outcomes) == before and time.monotonic() >= deadline:
            # It started just before the deadline, but no board page could start before it (a politeness wait
            # would have crossed it): it did nothing, so it is skipped, and runs first next time.
            skipped = searches[index:]
            break
        posting_ids += _saved_search_matches(search, found, ctx)
        if search.saved_search_id is not None:
            saved_search_scraped_mark(saved_search_id=search.saved_search_id)
        ran.append(search)
    budget_exhausted = bool(skipped) or time.monotonic() >= deadline
    if skipped:
        message = (f"Run budget of {budget_seconds:g} s (SCRAPE_RUN_BUDGET_SECONDS) ran out after {len(ran)} of "
                   f"{len(searches)} saved searches; skipped {len(skipped)}: "
                   f"{', '.join(search.label() for search in skipped)}. They run first next time.")
        logger.warning(message)
        if ctx is not None:
            ctx.mark_partial(message)
    unique_ids = list(dict.fromkeys(posting_ids))[:limit]
    postings = [selectors.posting_summary(posting=p) for p in selectors.postings_by_ids(ids=unique_ids)]
    # Each-scrape digests of the saved searches that ran (a plain keyword run has none).
    digests = saved_search_digests_send(alert=SavedSearch.Alert.EACH_SCRAPE, search_ids=[
        search.saved_search_id for search in ran if search.saved_search_id is not None]) if not keyword else None
    logger.info("Scraping completed")
    return {
        "counts": {name: outcome.as_dict() for name, outcome in outcomes.items()},
        "totals": {key: sum(getattr(o, key) for o in outcomes.values()) for key in ("created", "updated", "skipped")},
        "searches": [search.as_dict() for search in ran],
        "skipped_searches": [{"id": search.saved_search_id, **search.as_dict()} for search in skipped],
        "budget_seconds": budget_seconds,
        "budget_exhausted": budget_exhausted,
        "served_from_store": any(o.over_budget for o in outcomes.values()),
        "postings": postings,
        **({"digests": {"emails": digests["emails"], "postings": digests["postings"]}} if digests else {}),
    }


def _saved_search_matches(search: _Search, found: list[int], ctx) -> list[int]:
    """What a search reports: the postings the boards returned for it, narrowed by a saved search's stored filters
    (salary, employment type, seniority, tags...: the boards match the keyword and location only)."""
    if not search.filters:
        return found
    try:
        return selectors.postings_ids_filtered(ids=found, filters=search.filters)
    except ValueError as exc:  # stored filters written around the API's and the admin's validation
        message = f"Saved search #{search.saved_search_id} has invalid filters ({exc}); its matches are not listed."
        logger.warning(message)
        if ctx is not None:
            ctx.mark_partial(message)
        return []


def _work_done(outcomes: dict[str, SourceOutcome]) -> list[tuple]:
    """What the searches so far did, per board: requests, postings served from the store, its error."""
    return [(name, o.requests, o.served_from_store, o.error) for name, o in outcomes.items()]


def saved_search_scraped_mark(*, saved_search_id: int) -> None:
    """Record that a run has just scraped this search (through the job's fenced transaction): the order of the
    next runs."""
    with job_atomic():
        SavedSearch.objects.filter(pk=saved_search_id).update(last_scraped_at=timezone.now())


def sources_scrape(*, query: SearchQuery, sources: list[JobSource], outcomes: dict[str, SourceOutcome],
                   deadline: float | None = None) -> list[int]:
    """One search across the given sources: budgets, concurrent fetches, upserts. Fills `outcomes` (by source
    name) and returns the stored postings' ids, in the boards' order. No board page starts at or after
    `deadline` (time.monotonic()); a board stopped by it keeps the pages it read."""
    ctx = current_job_context()
    posting_ids: list[int] = []
    jobs: dict[int, tuple[JobSource, _BoardJob]] = {}
    for source in sources:
        outcome = outcomes.setdefault(source.name, SourceOutcome())
        grant = source_budget_reserve(source=source)
        if not grant.allowed:
            stored = list(selectors.postings_list(keyword=query.keyword, location=query.location)
                          .filter(source=source).values_list("pk", flat=True)[:query.limit])
            outcome.over_budget, outcome.served_from_store = grant.reason, outcome.served_from_store + len(stored)
            posting_ids += stored
            _warn(ctx, f"{source.name}: over its politeness budget ({grant.reason}); served {len(stored)} "
                       f"stored posting(s) instead.")
            continue
        jobs[source.pk] = (source, _BoardJob(kind=source.kind, name=source.name, base_url=source.base_url,
                                             params=dict(source.params or {}),
                                             min_interval_seconds=source.min_interval_seconds,
                                             max_requests=grant.max_requests, deadline=deadline))
    if not jobs:
        return posting_ids
    checkpoint = ctx.check if ctx is not None else (lambda: None)
    carried = tracing.context_capture()  # the workers' fetch spans join the job's trace
    executor = ThreadPoolExecutor(max_workers=min(settings.SCRAPE_MAX_WORKERS, len(jobs)),
                                  thread_name_prefix="scrape-board")
    try:
        pending: dict[Future, int] = {
            executor.submit(_board_fetch, job, query, checkpoint, _progress(ctx, job.name), carried): source_pk
            for source_pk, (_source, job) in jobs.items()
        }
        while pending:
            done, _ = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            if ctx is not None:
                ctx.check()  # a timed-out or lock-lost run stops here, before writing anything more
            for future in done:
                source, job = jobs[pending.pop(future)]
                posting_ids += _board_finish(source=source, future=future, outcome=outcomes[source.name], ctx=ctx)
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    return posting_ids


def _board_fetch(job: _BoardJob, query: SearchQuery, checkpoint: Callable[[], None],
                 on_page: Callable[[int, int | None], None], carried: Any = None) -> FetchResult:
    """Worker thread: HTTP and parsing only (in the job's trace context, `carried` from its thread)."""
    fetcher = Fetcher(min_interval_seconds=job.min_interval_seconds, max_requests=job.max_requests,
                      checkpoint=checkpoint, on_page=on_page, deadline=job.deadline, board=job.name)
    adapter = source_class(job.kind)(base_url=job.base_url, params=job.params, fetcher=fetcher)
    try:
        with tracing.context_attached(carried):
            return adapter.fetch(query)
    except RunBudgetExhausted as exc:  # a board without paging (or queued behind busy workers) started too late
        return FetchResult(postings=[], seen=0, skipped=0, requests=fetcher.requests, notes=[str(exc)])
    except BoardError as exc:
        exc.requests = fetcher.requests  # type: ignore[attr-defined]
        raise


def _board_finish(*, source: JobSource, future: Future, outcome: SourceOutcome, ctx) -> list[int]:
    try:
        result: FetchResult = future.result()
    except JobCancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - one board's failure (or adapter bug) must not lose the others
        if not isinstance(exc, BoardError):
            logger.exception("Source %s failed", source.name)
        message = str(exc) if isinstance(exc, BoardError) else f"{type(exc).__name__}: {exc}"
        outcome.error = message
        source_budget_record(source=source, requests=getattr(exc, "requests", 1), error=message,
                             cooldown_seconds=getattr(exc, "cooldown_seconds", None))
        if ctx is not None:
            ctx.mark_partial(f"{source.name}: {message}")
        logger.warning("Source %s failed: %s", source.name, message)
        return []
    counts = postings_upsert(source=source, postings=result.postings)
    source_budget_record(source=source, requests=result.requests)
    if ctx is not None:
        ctx.progress(source.name, 1, 1)  # a board that met its limit early still ends its bar at 100%
    outcome.created += counts.created
    outcome.updated += counts.updated
    outcome.skipped += result.skipped + counts.skipped
    outcome.fetched += result.seen
    outcome.requests += result.requests
    outcome.notes += result.notes
    return counts.ids


def _progress(ctx, name: str) -> Callable[[int, int | None], None]:
    if ctx is None:
        return lambda done, total: None
    return lambda done, total: ctx.progress(name, done, total)


def _warn(ctx, message: str) -> None:
    logger.warning(message)
    if ctx is not None:
        ctx.warn(message)
