"""Arbeitnow: GET /api/job-board-api?page=N, `data[]` with `links.next` while there are more pages."""

from __future__ import annotations

from scraping_app.sources.base import Budget, FetchResult, PostingData, SearchQuery, Source
from scraping_app.sources.http import BudgetExhausted
from scraping_app.sources.parsing import epoch_to_utc, html_to_text, text_clean, text_list_clean


class ArbeitnowSource(Source):
    kind = "arbeitnow"
    label = "Arbeitnow"
    default_url = "https://www.arbeitnow.com/api/job-board-api"
    budget = Budget(min_interval_seconds=2.0, daily_request_cap=200)

    def fetch(self, query: SearchQuery) -> FetchResult:
        max_pages = self.int_param("max_pages", 3)
        kept: list[PostingData] = []
        seen = skipped = 0
        notes: list[str] = []
        page = 1
        while page <= max_pages and len(kept) < query.limit:
            try:
                payload = self.fetcher.get_json(self.base_url, params={"page": page})
            except BudgetExhausted as exc:
                notes.append(str(exc))
                break
            items = payload.get("data", []) if isinstance(payload, dict) else payload
            seen += len(items or [])
            skipped += self.select(items or [], posting_parse, query, kept)
            self.fetcher.on_page(page, max_pages)
            # The board links the next page absolutely; we only need to know there is one.
            has_next = isinstance(payload, dict) and bool((payload.get("links") or {}).get("next"))
            if not has_next or not items:
                break
            page += 1
        return FetchResult(postings=kept, seen=seen, skipped=skipped, requests=self.fetcher.requests, notes=notes)


def posting_parse(item: dict) -> PostingData | None:
    if not item.get("slug") or not item.get("title"):
        return None
    location = text_clean(item.get("location"), 300)
    return PostingData(
        source_job_id=str(item["slug"])[:200],
        title=text_clean(item["title"], 300),
        company=text_clean(item.get("company_name"), 200),
        location=location,
        is_remote=bool(item.get("remote")),
        employment_type=", ".join(text_list_clean(item.get("job_types")))[:100],
        tags=text_list_clean(item.get("tags")),
        description_text=html_to_text(item.get("description")),
        url=item.get("url") or "",
        apply_url=item.get("url") or "",
        posted_at=epoch_to_utc(item.get("created_at")),
        raw=item,
    )
