"""Lever postings API: GET /v0/postings/{site}?mode=json&skip=&limit=. Pages until a short page."""

from __future__ import annotations

from urllib.parse import urlparse

from scraping_app.sources.base import Budget, FetchResult, PostingData, SearchQuery, Source
from scraping_app.sources.http import BudgetExhausted
from scraping_app.sources.parsing import decimal_or_none, epoch_to_utc, html_to_text, text_clean

INTERVALS = {"per-year-salary": "year", "per-month-salary": "month", "per-week-salary": "week",
             "per-day-wage": "day", "per-hour-wage": "hour", "one-time": "once"}


class LeverSource(Source):
    kind = "lever"
    label = "Lever"
    default_url = "https://api.lever.co/v0/postings/{site}"
    url_required = True
    budget = Budget(min_interval_seconds=1.0, daily_request_cap=200)

    def fetch(self, query: SearchQuery) -> FetchResult:
        page_size = self.int_param("page_size", 100)
        max_pages = self.int_param("max_pages", 5)
        company = self.params.get("company") or site_from_url(self.base_url)
        kept: list[PostingData] = []
        seen = skipped = 0
        notes: list[str] = []
        for page in range(max_pages):
            if len(kept) >= query.limit:
                break
            try:
                items = self.fetcher.get_json(self.base_url, params={"mode": "json", "skip": page * page_size,
                                                                     "limit": page_size})
            except BudgetExhausted as exc:
                notes.append(str(exc))
                break
            items = items if isinstance(items, list) else []
            seen += len(items)
            skipped += self.select(items, lambda item: posting_parse(item, company=company), query, kept)
            self.fetcher.on_page(page + 1, max_pages)
            if len(items) < page_size:
                break
        return FetchResult(postings=kept, seen=seen, skipped=skipped, requests=self.fetcher.requests, notes=notes)


def site_from_url(url: str) -> str:
    parts = [part for part in urlparse(url).path.split("/") if part]
    return parts[-1] if parts else ""


def posting_parse(item: dict, *, company: str = "") -> PostingData | None:
    if not item.get("id") or not item.get("text"):
        return None
    categories = item.get("categories") or {}
    location = text_clean(categories.get("location"), 300)
    salary = item.get("salaryRange") or {}
    workplace = str(item.get("workplaceType") or "").lower()
    return PostingData(
        source_job_id=str(item["id"]),
        title=text_clean(item["text"], 300),
        company=text_clean(company, 200),
        location=location,
        is_remote=workplace == "remote" or "remote" in location.lower(),
        employment_type=text_clean(categories.get("commitment"), 100),
        salary_min=decimal_or_none(salary.get("min")),
        salary_max=decimal_or_none(salary.get("max")),
        salary_currency=text_clean(salary.get("currency"), 10),
        salary_period=INTERVALS.get(salary.get("interval") or "", ""),
        tags=[text_clean(categories[key], 100) for key in ("team", "department") if categories.get(key)],
        description_text=item.get("descriptionPlain") or html_to_text(item.get("description")),
        url=item.get("hostedUrl") or "",
        apply_url=item.get("applyUrl") or item.get("hostedUrl") or "",
        posted_at=epoch_to_utc(item.get("createdAt")),
        raw=item,
    )
