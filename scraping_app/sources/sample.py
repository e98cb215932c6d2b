"""The offline sample board: fictional postings from a JSON file shipped in the app, so the demo works with no
network. `delay_seconds` per page stands in for a real board's response time (a demo scrape that takes a
while lets a second trigger meet the held lock); the wait checks for cancellation, so a timed-out run stops
between pages."""

from __future__ import annotations

import json
import math
from pathlib import Path

from scraping_app.normalize import seniority_normalize
from scraping_app.sources.base import Budget, FetchResult, PostingData, SearchQuery, Source
from scraping_app.sources.http import BudgetExhausted
from scraping_app.sources.parsing import (
    decimal_or_none,
    html_to_text,
    iso_to_utc,
    locations_clean,
    sections_clean,
    text_clean,
    text_list_clean,
    url_clean,
)

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "sample_postings.json"


class SampleSource(Source):
    kind = "sample"
    label = "Offline sample"
    default_url = ""
    budget = Budget(min_interval_seconds=0.0, daily_request_cap=None)

    def fetch(self, query: SearchQuery) -> FetchResult:
        payload = json.loads(Path(self.params.get("path") or DATA_FILE).read_text(encoding="utf-8"))
        items = payload.get("jobs", []) if isinstance(payload, dict) else payload
        page_size = max(1, self.int_param("page_size", 10))
        delay = float(self.params.get("delay_seconds") or 0)
        pages = math.ceil(len(items) / page_size)
        kept: list[PostingData] = []
        notes: list[str] = []
        seen = skipped = 0
        for page in range(pages):
            if len(kept) >= query.limit:
                break
            try:
                self.fetcher.deadline_check()  # the delay is this board's page time, as a real board's read is
            except BudgetExhausted as exc:
                notes.append(str(exc))
                break
            self.fetcher.pause(delay)
            chunk = items[page * page_size:(page + 1) * page_size]
            seen += len(chunk)
            skipped += self.select(chunk, posting_parse, query, kept)
            self.fetcher.on_page(page + 1, pages)
        return FetchResult(postings=kept, seen=seen, skipped=skipped, requests=0, notes=notes)


def posting_parse(item: dict) -> PostingData | None:
    if not item.get("id") or not item.get("title"):
        return None
    return PostingData(
        source_job_id=str(item["id"]),
        title=text_clean(item["title"], 300),
        company=text_clean(item.get("company"), 200),
        location=text_clean(item.get("location"), 300),
        is_remote=bool(item.get("remote")),
        employment_type=text_clean(item.get("employment_type"), 100).replace("_", " "),
        salary_min=decimal_or_none(item.get("salary_min")),
        salary_max=decimal_or_none(item.get("salary_max")),
        salary_currency=text_clean(item.get("currency"), 10),
        salary_period="year" if item.get("salary_min") else "",
        tags=text_list_clean(item.get("tags")),
        description_text=html_to_text(item.get("description")),
        url=item.get("url") or "",
        apply_url=item.get("url") or "",
        posted_at=iso_to_utc(item.get("posted_at")),
        raw=item,
        company_logo_url=url_clean(item.get("company_logo_url")),
        other_locations=locations_clean(item.get("other_locations"), primary=text_clean(item.get("location"), 300)),
        expires_at=iso_to_utc(item.get("expires_at")),
        requirements=sections_clean(item.get("requirements")),
        seniority=seniority_normalize(value=str(item.get("seniority") or "")),
    )
