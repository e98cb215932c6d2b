"""Himalayas: GET /jobs/api?limit=&offset= (limit at most 20), paged by offset up to `totalCount`."""

from __future__ import annotations

import math

from scraping_app.normalize import seniority_from_title, seniority_normalize
from scraping_app.sources.base import Budget, FetchResult, Page, PostingData, SearchQuery, Source
from scraping_app.sources.parsing import (
    as_list,
    decimal_or_none,
    epoch_to_utc,
    html_to_text,
    locations_clean,
    text_clean,
    text_list_clean,
    url_clean,
)

PERIODS = {"annual": "year", "yearly": "year", "monthly": "month", "weekly": "week", "hourly": "hour"}


class HimalayasSource(Source):
    kind = "himalayas"
    label = "Himalayas"
    default_url = "https://himalayas.app/jobs/api"
    budget = Budget(min_interval_seconds=2.0, daily_request_cap=100)
    max_pages_default = 30  # 20 jobs a page: 600 jobs, about 60 s at the 2 s interval (half the run's budget)

    def fetch(self, query: SearchQuery) -> FetchResult:
        page_size = max(1, min(self.int_param("page_size", 20), 20))
        offset = 0

        def read_page(index: int) -> Page:
            nonlocal offset
            payload = self.fetcher.get_json(self.base_url, params={"limit": page_size, "offset": offset})
            items = as_list(payload.get("jobs") if isinstance(payload, dict) else payload)
            total = payload.get("totalCount") if isinstance(payload, dict) else None
            offset += len(items)  # the next page starts after what came, even if the board sent fewer than asked
            if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
                return Page(items=items, more=offset < total, pages_total=math.ceil(total / page_size))
            return Page(items=items, more=len(items) >= page_size)  # no count: a short page is the last

        return self.pages_read(query, read_page, posting_parse)


def posting_parse(item: dict) -> PostingData | None:
    guid = item.get("guid") or item.get("applicationLink")
    if not guid or not item.get("title"):
        return None
    restrictions = text_list_clean(item.get("locationRestrictions"))
    location = ", ".join(restrictions)[:300] or "Worldwide"
    title = text_clean(item["title"], 300)
    return PostingData(
        source_job_id=str(guid)[:200],
        title=title,
        company=text_clean(item.get("companyName"), 200),
        location=location,
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
        company_logo_url=url_clean(item.get("companyLogo")),
        # Each country it is open to (`location` joins them), unless there is only the one.
        other_locations=locations_clean(restrictions, primary=location),
        expires_at=epoch_to_utc(item.get("expiryDate")),
        seniority=seniority_pick(item.get("seniority"), title=title),
    )


def seniority_pick(value, *, title: str) -> str:
    """Himalayas lists the levels a job is open to (["Mid-level", "Senior"]): the title's level when it is one of
    them, else the first one known."""
    values = [value] if isinstance(value, str) else as_list(value)
    levels = [level for entry in values if isinstance(entry, str) and (level := seniority_normalize(value=entry))]
    if not levels:
        return ""
    named = seniority_from_title(title=title)
    return named if named in levels else levels[0]
