"""Remotive: GET /api/remote-jobs?search=... One response, no paging, no location filter (done locally).

Terms: at most 4 requests a day, more than 2 a minute are blocked; link back to Remotive (we keep `url`).
"""

from __future__ import annotations

from scraping_app.sources.base import Budget, FetchResult, PostingData, SearchQuery, Source
from scraping_app.sources.parsing import (
    html_to_text,
    iso_to_utc,
    salary_text_parse,
    text_clean,
    text_list_clean,
    url_clean,
)


class RemotiveSource(Source):
    kind = "remotive"
    label = "Remotive"
    default_url = "https://remotive.com/api/remote-jobs"
    budget = Budget(min_interval_seconds=60.0, daily_request_cap=4)

    def fetch(self, query: SearchQuery) -> FetchResult:
        params = {key: self.params[key] for key in ("category", "company_name") if self.params.get(key)}
        if query.keyword:
            params["search"] = query.keyword
        payload = self.fetcher.get_json(self.base_url, params=params)
        items = payload.get("jobs", []) if isinstance(payload, dict) else payload
        self.fetcher.on_page(1, 1)
        kept: list[PostingData] = []
        skipped = self.select(items or [], posting_parse, query, kept)
        return FetchResult(postings=kept, seen=len(items or []), skipped=skipped, requests=self.fetcher.requests)


def posting_parse(item: dict) -> PostingData | None:
    if not item.get("id") or not item.get("title"):
        return None
    salary_min, salary_max, currency, period = salary_text_parse(item.get("salary"))
    return PostingData(
        source_job_id=str(item["id"]),
        title=text_clean(item["title"], 300),
        company=text_clean(item.get("company_name"), 200),
        location=text_clean(item.get("candidate_required_location"), 300),
        is_remote=True,  # a remote-only board
        employment_type=text_clean(item.get("job_type"), 100).replace("_", " "),
        salary_min=salary_min, salary_max=salary_max, salary_currency=currency, salary_period=period,
        tags=text_list_clean(item.get("tags")) + ([item["category"]] if item.get("category") else []),
        description_text=html_to_text(item.get("description")),
        url=item.get("url") or "",
        apply_url=item.get("url") or "",
        posted_at=iso_to_utc(item.get("publication_date")),
        raw=item,
        company_logo_url=url_clean(item.get("company_logo_url")) or url_clean(item.get("company_logo")),
    )
