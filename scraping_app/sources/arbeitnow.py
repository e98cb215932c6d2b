"""Arbeitnow: GET /api/job-board-api?page=N, `data[]` with `links.next` while there are more pages."""

from __future__ import annotations

from scraping_app.normalize import employment_type_normalize, seniority_normalize
from scraping_app.sources.base import Budget, FetchResult, Page, PostingData, SearchQuery, Source
from scraping_app.sources.parsing import epoch_to_utc, html_to_text, text_clean, text_list_clean


class ArbeitnowSource(Source):
    kind = "arbeitnow"
    label = "Arbeitnow"
    default_url = "https://www.arbeitnow.com/api/job-board-api"
    budget = Budget(min_interval_seconds=2.0, daily_request_cap=200)
    max_pages_default = 10  # 100 jobs a page: 1,000 jobs, about 20 s at the 2 s interval

    def fetch(self, query: SearchQuery) -> FetchResult:
        def read_page(index: int) -> Page:
            payload = self.fetcher.get_json(self.base_url, params={"page": index + 1})
            items = payload.get("data", []) if isinstance(payload, dict) else payload
            # The board links the next page absolutely; we only need to know there is one.
            has_next = isinstance(payload, dict) and bool((payload.get("links") or {}).get("next"))
            return Page(items=items if isinstance(items, list) else [], more=has_next)

        return self.pages_read(query, read_page, posting_parse)


def job_types_split(values: list[str]) -> tuple[list[str], str]:
    """Arbeitnow's `job_types` mixes employment types ("full time", "Working student") with levels
    ("berufserfahren", "geschäftsleitung"): the levels become the seniority (the first one known), the rest stay
    the employment type."""
    kinds: list[str] = []
    seniority = ""
    for value in values:
        level = "" if employment_type_normalize(value=value) else seniority_normalize(value=value)
        if level:
            seniority = seniority or level
        else:
            kinds.append(value)
    return kinds, seniority


def posting_parse(item: dict) -> PostingData | None:
    if not item.get("slug") or not item.get("title"):
        return None
    location = text_clean(item.get("location"), 300)
    kinds, seniority = job_types_split(text_list_clean(item.get("job_types")))
    return PostingData(
        source_job_id=str(item["slug"])[:200],
        title=text_clean(item["title"], 300),
        company=text_clean(item.get("company_name"), 200),
        location=location,
        is_remote=bool(item.get("remote")),
        employment_type=", ".join(kinds)[:100],
        tags=text_list_clean(item.get("tags")),
        description_text=html_to_text(item.get("description")),
        url=item.get("url") or "",
        apply_url=item.get("url") or "",
        posted_at=epoch_to_utc(item.get("created_at")),
        raw=item,
        seniority=seniority,
    )
