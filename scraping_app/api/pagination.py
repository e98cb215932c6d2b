"""The postings list's keyset pagination: `next` and `previous` carry an opaque cursor (the sort's key of the page's
last or first row, signed so a client cannot forge one), and the count stops at POSTINGS_COUNT_CAP. No page ever
counts or skips every match before it, so page 500 costs what page 1 does."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core import signing
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from scraping_app import selectors
from scraping_app.selectors import SortKey

CURSOR_SALT = "scraping_app.postings-cursor"
INVALID_CURSOR = "Invalid cursor: use the next or previous link of this list, with the same sort."


def count_cap() -> int:
    return getattr(settings, "POSTINGS_COUNT_CAP", 1000)


def cursor_encode(*, key: SortKey, row, backwards: bool) -> str:
    values = [_plain(getattr(row, name)) for name, _ in key.parts]
    return signing.dumps({"s": key.name, "k": values, "b": backwards}, salt=CURSOR_SALT, compress=True)


def cursor_decode(*, raw: str, key: SortKey) -> tuple[list, bool]:
    """(values, backwards) of a cursor made for `key`, or a 400."""
    try:
        payload = signing.loads(raw, salt=CURSOR_SALT)
        if payload["s"] != key.name or not isinstance(payload["b"], bool):
            raise ValueError("another sort")
        values = payload["k"]
        if not isinstance(values, list) or len(values) != len(key.parts):
            raise ValueError("key")
        *leading, row_id = values
        if not isinstance(row_id, int) or isinstance(row_id, bool):
            raise ValueError("id")
        typed = [_typed(name, value) for (name, _), value in zip(key.parts, leading, strict=False)]
        return [*typed, row_id], payload["b"]
    except (signing.BadSignature, KeyError, TypeError, ValueError, InvalidOperation):
        # 404, as DRF's own CursorPagination answers: a cursor is a link to a page, and this page does not exist.
        raise NotFound(INVALID_CURSOR) from None


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _typed(attribute: str, value):
    if attribute == "tier":  # relevance on PostgreSQL: 1 (title or company match) or 0
        if value not in (0, 1) or isinstance(value, bool):
            raise ValueError(attribute)
        return value
    if value is None:
        return None
    if attribute == "posted_at":
        return datetime.fromisoformat(value)
    if attribute == "salary_annual_max":
        return Decimal(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(attribute)
    return float(value)


def page_size_read(request) -> int:
    raw = request.query_params.get("page_size")
    if raw is None:
        return settings.REST_FRAMEWORK["PAGE_SIZE"]
    high = settings.API_MAX_PAGE_SIZE
    value = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else 0
    if not 1 <= value <= high:
        raise ValidationError({"page_size": [f"Use a whole number from 1 to {high}."]})
    return value


class PostingCursorPagination(BasePagination):
    """Reads the view's `sort_key` (set by its get_queryset)."""

    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset, request, view=None):
        key: SortKey = view.sort_key
        size = page_size_read(request)
        raw = request.query_params.get(self.cursor_query_param)
        values, backwards = cursor_decode(raw=raw, key=key) if raw is not None else (None, False)
        rows = selectors.postings_page(queryset=queryset, key=key, size=size + 1, values=values, backwards=backwards,
                                       filters=getattr(view, "filters", None))
        more = len(rows) > size
        rows = rows[:size]
        if backwards:
            rows.reverse()
        self.count = selectors.postings_count(queryset=queryset, cap=count_cap())
        self.request, self.key = request, key
        after_exists = more if not backwards else True
        before_exists = (raw is not None) if not backwards else more
        self.next_cursor = cursor_encode(key=key, row=rows[-1], backwards=False) if rows and after_exists else None
        self.previous_cursor = cursor_encode(key=key, row=rows[0], backwards=True) if rows and before_exists else None
        return rows

    def _link(self, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(remove_query_param(url, "page"), self.cursor_query_param, cursor)

    def get_paginated_response(self, data):
        return Response({"count": self.count.count, "count_capped": self.count.capped,
                         "count_estimated": self.count.estimated, "next": self._link(self.next_cursor),
                         "previous": self._link(self.previous_cursor), "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["count", "count_capped", "count_estimated", "next", "previous", "results"],
            "properties": {
                "count": {"type": "integer", "description": "Matches, counted up to POSTINGS_COUNT_CAP (1000)."},
                "count_capped": {"type": "boolean", "description": "True: there are more matches than `count`."},
                "count_estimated": {"type": "boolean",
                                    "description": "True: not counted; the database estimates far more matches "
                                                   "than the cap (PostgreSQL), so `count` is the cap."},
                "next": {"type": "string", "format": "uri", "nullable": True},
                "previous": {"type": "string", "format": "uri", "nullable": True},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {"name": self.cursor_query_param, "required": False, "in": "query",
             "description": "The opaque cursor of a next or previous link.", "schema": {"type": "string"}},
            {"name": "page_size", "required": False, "in": "query", "description": "Rows per page.",
             "schema": {"type": "integer", "minimum": 1, "maximum": settings.API_MAX_PAGE_SIZE,
                        "default": settings.REST_FRAMEWORK["PAGE_SIZE"]}},
        ]
