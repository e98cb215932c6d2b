"""Greenhouse job board API: GET /v1/boards/{token}/jobs?content=true. One company per board, no search, no
paging; `content` is entity-escaped HTML."""

from __future__ import annotations

from urllib.parse import urlparse

from scraping_app.sources.base import Budget, FetchResult, PostingData, SearchQuery, Source
from scraping_app.sources.parsing import as_list, html_to_text, iso_to_utc, locations_clean, text_clean


class GreenhouseSource(Source):
    kind = "greenhouse"
    label = "Greenhouse"
    default_url = "https://boards-api.greenhouse.io/v1/boards/{board_token}/jobs"
    url_required = True
    budget = Budget(min_interval_seconds=1.0, daily_request_cap=200)

    def fetch(self, query: SearchQuery) -> FetchResult:
        payload = self.fetcher.get_json(self.base_url, params={"content": "true"})
        items = payload.get("jobs", []) if isinstance(payload, dict) else []
        self.fetcher.on_page(1, 1)
        company = self.params.get("company") or board_from_url(self.base_url)
        kept: list[PostingData] = []
        skipped = self.select(items, lambda item: posting_parse(item, company=company), query, kept)
        return FetchResult(postings=kept, seen=len(items), skipped=skipped, requests=self.fetcher.requests)


def board_from_url(url: str) -> str:
    parts = [part for part in urlparse(url).path.split("/") if part]
    return parts[parts.index("boards") + 1] if "boards" in parts[:-1] else ""


def posting_parse(item: dict, *, company: str = "") -> PostingData | None:
    if not item.get("id") or not item.get("title"):
        return None
    location = text_clean((item.get("location") or {}).get("name"), 300)
    workplace = " ".join(str(meta.get("value")) for meta in (item.get("metadata") or [])
                         if isinstance(meta, dict) and "workplace" in str(meta.get("name", "")).lower())
    return PostingData(
        source_job_id=str(item["id"]),
        title=text_clean(item["title"], 300),
        company=text_clean(item.get("company_name") or company, 200),
        location=location,
        is_remote="remote" in f"{location} {workplace}".lower(),
        tags=[text_clean(dep.get("name"), 100) for dep in (item.get("departments") or []) if dep.get("name")],
        description_text=html_to_text(item.get("content"), escaped=True),
        url=item.get("absolute_url") or "",
        apply_url=item.get("absolute_url") or "",
        posted_at=iso_to_utc(item.get("first_published")) or iso_to_utc(item.get("updated_at")),
        raw=item,
        # The job's offices beyond its location; `application_deadline` is the board's closing date (often null).
        other_locations=locations_clean([office.get("location") or office.get("name")
                                         for office in as_list(item.get("offices")) if isinstance(office, dict)],
                                        primary=location),
        expires_at=iso_to_utc(item.get("application_deadline")),
    )
