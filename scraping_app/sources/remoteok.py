"""RemoteOK: GET /api, a JSON array whose element 0 is the legal notice, then the newest ~100 jobs.

Terms: credit "Remote OK" with a followed link (we keep `url`); Crawl-delay 1.
"""

from __future__ import annotations

from scraping_app.sources.base import Budget, FetchResult, PostingData, SearchQuery, Source
from scraping_app.sources.parsing import (
    decimal_or_none,
    epoch_to_utc,
    html_to_text,
    iso_to_utc,
    mojibake_fix,
    text_clean,
    text_list_clean,
    url_clean,
)


class RemoteOKSource(Source):
    kind = "remoteok"
    label = "RemoteOK"
    default_url = "https://remoteok.com/api"
    budget = Budget(min_interval_seconds=1.0, daily_request_cap=48)

    def fetch(self, query: SearchQuery) -> FetchResult:
        payload = self.fetcher.get_json(self.base_url)
        items = [item for item in (payload if isinstance(payload, list) else []) if not is_legal_notice(item)]
        self.fetcher.on_page(1, 1)
        kept: list[PostingData] = []
        skipped = self.select(items, posting_parse, query, kept)
        return FetchResult(postings=kept, seen=len(items), skipped=skipped, requests=self.fetcher.requests)


def is_legal_notice(item) -> bool:
    return not isinstance(item, dict) or "legal" in item or not item.get("id")


def posting_parse(item: dict) -> PostingData | None:
    if not item.get("position"):
        return None
    salary_min, salary_max = decimal_or_none(item.get("salary_min")), decimal_or_none(item.get("salary_max"))
    return PostingData(
        source_job_id=str(item["id"]),
        title=text_clean(mojibake_fix(item["position"]), 300),
        company=text_clean(mojibake_fix(item.get("company") or ""), 200),
        location=text_clean(mojibake_fix(item.get("location") or ""), 300),
        is_remote=True,  # a remote-only board
        salary_min=salary_min, salary_max=salary_max,
        salary_currency="USD" if salary_min or salary_max else "",
        salary_period="year" if salary_min or salary_max else "",
        tags=text_list_clean(item.get("tags")),
        description_text=html_to_text(mojibake_fix(item.get("description") or "")),
        url=item.get("url") or "",
        apply_url=item.get("apply_url") or item.get("url") or "",
        posted_at=epoch_to_utc(item.get("epoch")) or iso_to_utc(item.get("date")),
        raw=item,
        company_logo_url=url_clean(item.get("company_logo")) or url_clean(item.get("logo")),
    )
