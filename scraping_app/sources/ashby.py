"""Ashby posting API: GET /posting-api/job-board/{board}?includeCompensation=true, the whole board at once."""

from __future__ import annotations

from urllib.parse import urlparse

from scraping_app.sources.base import Budget, FetchResult, PostingData, SearchQuery, Source
from scraping_app.sources.parsing import as_list, decimal_or_none, html_to_text, iso_to_utc, locations_clean, text_clean

INTERVALS = {"1 YEAR": "year", "1 MONTH": "month", "1 WEEK": "week", "1 DAY": "day", "1 HOUR": "hour"}


class AshbySource(Source):
    kind = "ashby"
    label = "Ashby"
    default_url = "https://api.ashbyhq.com/posting-api/job-board/{board}"
    url_required = True
    budget = Budget(min_interval_seconds=1.0, daily_request_cap=200)

    def fetch(self, query: SearchQuery) -> FetchResult:
        payload = self.fetcher.get_json(self.base_url, params={"includeCompensation": "true"})
        items = [item for item in (payload.get("jobs", []) if isinstance(payload, dict) else [])
                 if isinstance(item, dict) and item.get("isListed", True) is not False]
        self.fetcher.on_page(1, 1)
        company = self.params.get("company") or board_from_url(self.base_url)
        kept: list[PostingData] = []
        skipped = self.select(items, lambda item: posting_parse(item, company=company), query, kept)
        return FetchResult(postings=kept, seen=len(items), skipped=skipped, requests=self.fetcher.requests)


def board_from_url(url: str) -> str:
    parts = [part for part in urlparse(url).path.split("/") if part]
    return parts[-1] if parts else ""


def _salary(item: dict) -> dict:
    for component in (item.get("compensation") or {}).get("summaryComponents") or []:
        if component.get("compensationType") == "Salary":
            return component
    return {}


def posting_parse(item: dict, *, company: str = "") -> PostingData | None:
    if not item.get("id") or not (item.get("title") or "").strip():
        return None
    location = text_clean(item.get("location"), 300)
    workplace = str(item.get("workplaceType") or "")
    is_remote = item.get("isRemote")
    if is_remote is None:  # null is common; fall back to the workplace type
        is_remote = workplace == "Remote"
    salary = _salary(item)
    return PostingData(
        source_job_id=str(item["id"]),
        title=text_clean(item["title"], 300),
        company=text_clean(company, 200),
        location=location,
        is_remote=bool(is_remote),
        employment_type=text_clean(item.get("employmentType"), 100),
        salary_min=decimal_or_none(salary.get("minValue")),
        salary_max=decimal_or_none(salary.get("maxValue")),
        salary_currency=text_clean(salary.get("currencyCode"), 10),
        salary_period=INTERVALS.get(salary.get("interval") or "", ""),
        tags=[text_clean(item[key], 100) for key in ("department", "team") if item.get(key)],
        description_text=item.get("descriptionPlain") or html_to_text(item.get("descriptionHtml")),
        url=item.get("jobUrl") or "",
        apply_url=item.get("applyUrl") or item.get("jobUrl") or "",
        posted_at=iso_to_utc(item.get("publishedAt")),
        raw=item,
        other_locations=locations_clean([entry.get("location") for entry in as_list(item.get("secondaryLocations"))
                                         if isinstance(entry, dict)], primary=location),
    )
