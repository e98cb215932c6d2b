"""The one small interface every board adapter implements, and the normalised posting it returns.

Adapters run in worker threads: they do HTTP and parsing only, never touch the Django database. The job thread
writes what they return.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from scraping_app.sources.http import BudgetExhausted, Fetcher


@dataclass(frozen=True)
class SearchQuery:
    keyword: str | None = None
    location: str | None = None
    limit: int = 25


@dataclass
class PostingData:
    """A posting in the project's schema, before it is stored."""

    source_job_id: str
    title: str
    company: str = ""
    location: str = ""
    is_remote: bool = False
    employment_type: str = ""
    salary_min: Decimal | None = None
    salary_max: Decimal | None = None
    salary_currency: str = ""
    salary_period: str = ""
    tags: list[str] = field(default_factory=list)
    description_text: str = ""
    url: str = ""
    apply_url: str = ""
    posted_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    # What the boards publish beyond the basics, sanitised and capped by the adapters (sources/parsing.py).
    company_logo_url: str = ""  # http(s) only
    other_locations: list[str] = field(default_factory=list)  # the posting's locations besides `location`
    expires_at: datetime | None = None
    requirements: list[dict] = field(default_factory=list)  # [{"title": str, "items": [str]}]
    seniority: str = ""  # the board's own level, one of normalize.SENIORITIES; empty: derived from the title

    @property
    def fingerprint(self) -> str:
        """The same job on two boards: same company, title and location, compared loosely."""
        parts = [" ".join(value.lower().split()) for value in (self.company, self.title, self.location)]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()


@dataclass
class FetchResult:
    postings: list[PostingData]
    seen: int  # items the board returned
    skipped: int  # items dropped: no id, not matching the query, over the limit
    requests: int
    notes: list[str] = field(default_factory=list)


@dataclass
class Page:
    """One page of a paged board: its items, whether the board says there are more, and (when it says how many
    there are) how many pages a full read would take."""

    items: list
    more: bool
    pages_total: int | None = None


@dataclass(frozen=True)
class Budget:
    """A board's published (or prudent) politeness terms: the defaults for a new JobSource."""

    min_interval_seconds: float
    daily_request_cap: int | None


class Source:
    """Base class for a board adapter: subclasses set `kind`, `default_url`, `budget` and implement `fetch`."""

    kind: ClassVar[str]
    label: ClassVar[str]
    default_url: ClassVar[str] = ""
    url_required: ClassVar[bool] = False  # per-company boards need their own URL
    budget: ClassVar[Budget] = Budget(min_interval_seconds=1.0, daily_request_cap=500)
    max_pages_default: ClassVar[int] = 1  # a paged board's pages per fetch when params set no `max_pages`

    def __init__(self, *, base_url: str = "", params: dict | None = None, fetcher: Fetcher | None = None):
        self.base_url = base_url or self.default_url
        self.params = dict(params or {})
        self.fetcher = fetcher or Fetcher()

    def fetch(self, query: SearchQuery) -> FetchResult:
        raise NotImplementedError

    # -- helpers shared by the adapters -------------------------------------------------------------------------------
    def int_param(self, name: str, default: int) -> int:
        try:
            return int(self.params.get(name, default))
        except (TypeError, ValueError):
            return default

    def select(self, items: Iterable[dict], parse: Callable[[dict], PostingData | None], query: SearchQuery,
               kept: list[PostingData], parsed_ids: list[str] | None = None) -> int:
        """Parse items, keep the ones matching the query until `limit`; returns how many were dropped.

        An item already kept (pages shift while new jobs are posted, so page 2 can repeat page 1) is dropped.
        `parsed_ids` collects the id of every item parsed, kept or not (the pager's repeated-page check)."""
        dropped = 0
        kept_ids = {posting.source_job_id for posting in kept}
        for item in items:
            posting = parse(item) if isinstance(item, dict) else None
            if posting is not None and parsed_ids is not None:
                parsed_ids.append(posting.source_job_id)
            if (posting is None or len(kept) >= query.limit or posting.source_job_id in kept_ids
                    or not posting_matches(posting, query)):
                dropped += 1
                continue
            kept.append(posting)
            kept_ids.add(posting.source_job_id)
        return dropped

    def max_pages(self) -> int:
        return max(1, self.int_param("max_pages", self.max_pages_default))

    def pages_read(self, query: SearchQuery, read_page: Callable[[int], Page],
                   parse: Callable[[dict], PostingData | None]) -> FetchResult:
        """Read pages 0, 1, ... (`read_page(index)`) until `query.limit` postings match, the board says there is no
        more (or sends an empty page), or `max_pages` pages were read; the politeness budget and the run's deadline
        stop it too (the Fetcher raises BudgetExhausted before a request it may not make). A page that brings only
        ids already seen stops it as well: a board ignoring the page parameter must not be read `max_pages` times.
        Stopping for any reason but the end of the board or a met limit leaves a note."""
        max_pages = self.max_pages()
        kept: list[PostingData] = []
        seen_ids: set[str] = set()
        seen = skipped = read = 0
        notes: list[str] = []
        more = True
        while more and len(kept) < query.limit:
            if read >= max_pages:
                notes.append(f"stopped at max_pages ({max_pages}) with {len(kept)} of {query.limit} matches; "
                             f"the board has more (raise max_pages in the source's params to read deeper)")
                break
            try:
                page = read_page(read)
            except BudgetExhausted as exc:
                notes.append(str(exc))
                break
            read += 1
            page_ids: list[str] = []
            seen += len(page.items)
            skipped += self.select(page.items, parse, query, kept, parsed_ids=page_ids)
            self.fetcher.on_page(read, min(max_pages, page.pages_total or max_pages))
            if page_ids and seen_ids.issuperset(page_ids):
                notes.append(f"page {read} repeated earlier items only; stopped paging")
                break
            seen_ids.update(page_ids)
            more = page.more and bool(page.items)
        return FetchResult(postings=kept, seen=seen, skipped=skipped, requests=self.fetcher.requests, notes=notes)


def posting_matches(posting: PostingData, query: SearchQuery) -> bool:
    """Local filtering for boards that cannot search: keyword anywhere in the text, location case-insensitive on
    the posting's location, and `remote` meaning every remote posting."""
    if query.keyword:
        needle = query.keyword.lower()
        haystack = " ".join([posting.title, posting.company, " ".join(posting.tags), posting.description_text])
        if needle not in haystack.lower():
            return False
    if query.location:
        wanted = query.location.strip().lower()
        if wanted == "remote":
            return posting.is_remote
        if wanted not in posting.location.lower():
            return False
    return True
