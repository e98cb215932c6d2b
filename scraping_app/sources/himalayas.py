"""Himalayas: GET /jobs/api?limit=&offset= (limit at most 20), paged by offset up to `totalCount`."""

from __future__ import annotations

from scraping_app.sources.base import Budget, FetchResult, PostingData, SearchQuery, Source
from scraping_app.sources.http import BudgetExhausted
from scraping_app.sources.parsing import decimal_or_none, epoch_to_utc, html_to_text, text_clean, text_list_clean

PERIODS = {"annual": "year", "yearly": "year", "monthly": "month", "weekly": "week", "hourly": "hour"}


class HimalayasSource(Source):
    kind = "himalayas"
    label = "Himalayas"
    default_url = "https://himalayas.app/jobs/api"
    budget = Budget(min_interval_seconds=2.0, daily_request_cap=100)

    def fetch(self, query: SearchQuery) -> FetchResult:
        page_size = min(self.int_param("page_size", 20), 20)
        max_pages = self.int_param("max_pages", 5)
        kept: list[PostingData] = []
        seen = skipped = 0
        notes: list[str] = []
        for page in range(max_pages):
            if len(kept) >= query.limit:
                break
            try:
                payload = self.fetcher.get_json(self.base_url, params={"limit": page_size,
                                                                       "offset": page * page_size})
            except BudgetExhausted as exc:
                notes.append(str(exc))
                break
            items = payload.get("jobs", []) if isinstance(payload, dict) else payload
            items = items if isinstance(items, list) else []
            seen += len(items)
            skipped += self.select(items, posting_parse, query, kept)
            total = payload.get("totalCount") if isinstance(payload, dict) else None
            self.fetcher.on_page(page + 1, max_pages)
            if not items or len(items) < page_size or (total is not None and (page + 1) * page_size >= total):
                break
        return FetchResult(postings=kept, seen=seen, skipped=skipped, requests=self.fetcher.requests, notes=notes)


def posting_parse(item: dict) -> PostingData | None:
    guid = item.get("guid") or item.get("applicationLink")
    if not guid or not item.get("title"):
        return None
    restrictions = text_list_clean(item.get("locationRestrictions"))
    return PostingData(
        source_job_id=str(guid)[:200],
        title=text_clean(item["title"], 300),
        company=text_clean(item.get("companyName"), 200),
        location=", ".join(restrictions)[:300] or "Worldwide",
        is_remote=True,  # a remote-only board; locationRestrictions say where from
        employment_type=text_clean(item.get("employmentType"), 100),
        salary_min=decimal_or_none(item.get("minSalary")),
        salary_max=decimal_or_none(item.get("maxSalary")),
        salary_currency=text_clean(item.get("currency"), 10),
        salary_period=PERIODS.get(str(item.get("salaryPeriod") or "").lower(), ""),
        tags=[tag.replace("-", " ") for tag in text_list_clean(item.get("categories"))],
        description_text=html_to_text(item.get("description") or item.get("excerpt")),
        url=item.get("guid") or "",
        apply_url=item.get("applicationLink") or item.get("guid") or "",
        posted_at=epoch_to_utc(item.get("pubDate")),
        raw=item,
    )
