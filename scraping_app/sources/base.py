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

from scraping_app.sources.http import Fetcher


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
               kept: list[PostingData]) -> int:
        """Parse items, keep the ones matching the query until `limit`; returns how many were dropped.

        An item already kept (pages shift while new jobs are posted, so page 2 can repeat page 1) is dropped."""
        dropped = 0
        kept_ids = {posting.source_job_id for posting in kept}
        for item in items:
            posting = parse(item) if isinstance(item, dict) else None
            if (posting is None or len(kept) >= query.limit or posting.source_job_id in kept_ids
                    or not posting_matches(posting, query)):
                dropped += 1
                continue
            kept.append(posting)
            kept_ids.add(posting.source_job_id)
        return dropped


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
