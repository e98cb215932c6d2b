"""Lever postings API: GET /v0/postings/{site}?mode=json&skip=&limit=. Pages until a short page."""

from __future__ import annotations

from urllib.parse import urlparse

from scraping_app.sources.base import Budget, FetchResult, Page, PostingData, SearchQuery, Source
from scraping_app.sources.parsing import (
    SECTIONS_MAX,
    as_list,
    decimal_or_none,
    epoch_to_utc,
    html_list_items,
    html_to_text,
    locations_clean,
    section_clean,
    text_clean,
)

INTERVALS = {"per-year-salary": "year", "per-month-salary": "month", "per-week-salary": "week",
             "per-day-wage": "day", "per-hour-wage": "hour", "one-time": "once"}
ADDITIONAL_TITLE = "Additional information"


class LeverSource(Source):
    kind = "lever"
    label = "Lever"
    default_url = "https://api.lever.co/v0/postings/{site}"
    url_required = True
    budget = Budget(min_interval_seconds=1.0, daily_request_cap=200)
    max_pages_default = 10  # `page_size` 100: a company's first 1,000 postings

    def fetch(self, query: SearchQuery) -> FetchResult:
        page_size = max(1, self.int_param("page_size", 100))
        company = self.params.get("company") or site_from_url(self.base_url)

        def read_page(index: int) -> Page:
            items = as_list(self.fetcher.get_json(self.base_url, params={"mode": "json", "skip": index * page_size,
                                                                          "limit": page_size}))
            return Page(items=items, more=len(items) >= page_size)  # a short page is the last

        return self.pages_read(query, read_page, lambda item: posting_parse(item, company=company))


def site_from_url(url: str) -> str:
    parts = [part for part in urlparse(url).path.split("/") if part]
    return parts[-1] if parts else ""


def requirements_parse(item: dict) -> list[dict]:
    """Lever's `lists` ({text: the heading, content: <li> items}), then its closing `additional` text, as
    sections of plain-text items."""
    sections = [section_clean(entry.get("text"), html_list_items(entry.get("content")))
                for entry in as_list(item.get("lists"))[:SECTIONS_MAX] if isinstance(entry, dict)]
    additional = item.get("additionalPlain")
    additional_items = ([line.strip() for line in additional.splitlines()] if isinstance(additional, str)
                        else html_list_items(item.get("additional")))
    sections.append(section_clean(ADDITIONAL_TITLE, [line for line in additional_items if line]))
    return [section for section in sections if section][:SECTIONS_MAX]


def posting_parse(item: dict, *, company: str = "") -> PostingData | None:
    if not item.get("id") or not item.get("text"):
        return None
    categories = item.get("categories") if isinstance(item.get("categories"), dict) else {}
    location = text_clean(categories.get("location"), 300)
    salary = item.get("salaryRange") if isinstance(item.get("salaryRange"), dict) else {}
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
        other_locations=locations_clean(categories.get("allLocations"), primary=location),
        requirements=requirements_parse(item),
    )
