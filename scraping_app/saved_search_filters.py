"""A saved search's stored `filters` and the `selectors.postings_search` arguments they stand for: one pure mapping
each way (no database). The API and the admin validate filters with scraping_app.api.filters and store what
`saved_search_filters_dump` makes; services read them back with `saved_search_search_kwargs`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.utils.dateparse import parse_datetime

# The postings list's filters a saved search stores (hours_old is stored as posted_within_hours).
FILTER_NAMES = ("remote", "source", "posted_after", "posted_within_hours", "employment_type", "salary_min",
                "seniority", "company", "tags")
_LISTS = ("employment_type", "seniority", "tags")


def saved_search_filters_dump(values: dict) -> dict:
    """Validated filter values -> JSON-safe: a Decimal as its string, a datetime as ISO 8601, lists as lists."""
    stored = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif name in _LISTS:
            value = list(value)
        stored[name] = value
    return stored


def saved_search_filters_load(filters: dict) -> dict:
    """Stored filters -> keyword arguments of selectors.postings_search. Raises ValueError for what validation
    would have refused (a row written around the API and the admin), naming the filter."""
    if not isinstance(filters, dict):
        raise ValueError("filters: not an object")
    kwargs: dict = {}
    for name, value in filters.items():
        if name not in FILTER_NAMES:
            raise ValueError(f"filters: unknown filter {name!r}")
        if value is None:
            continue
        kwargs[name] = _load_one(name, value)
    return kwargs


def _load_one(name: str, value):
    if name == "remote" and isinstance(value, bool):
        return value
    if name in ("source", "company") and isinstance(value, str):
        return value
    if name == "posted_within_hours" and isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if name in _LISTS and isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    if name == "salary_min" and isinstance(value, str | int) and not isinstance(value, bool):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            pass
    if name == "posted_after" and isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    raise ValueError(f"filters: bad value for {name!r}: {value!r}")


def saved_search_search_kwargs(*, keyword: str, location: str, filters: dict) -> dict:
    """All of a saved search's filters as selectors.postings_search's arguments: its keyword (the full-text
    query), its location, and its stored filters."""
    return {"keyword": keyword or None, "location": location or None, **saved_search_filters_load(filters)}
