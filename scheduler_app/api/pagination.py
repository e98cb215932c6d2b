"""The one pagination of every list (REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"]): `page` ≥ 1 and `page_size`
1..API_MAX_PAGE_SIZE (default API_PAGE_SIZE). A malformed or out-of-range value is a 400 that says so, on every list
alike; a page past the last one is DRF's 404 "Invalid page."."""

from __future__ import annotations

import re

from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

_DECIMAL = re.compile(r"[0-9]{1,18}")  # ASCII digits only ("²".isdigit() is true); 18 digits fit an int64


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"

    @property
    def max_page_size(self) -> int:
        return settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        return _bounded(self.page_size_query_param, raw, high=self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and raw not in self.last_page_strings:
            _bounded(self.page_query_param, raw, high=None)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size, default=self.page_size)
        return parameters


def _bounded(name: str, raw: str, *, high: int | None) -> int:
    value = int(raw) if _DECIMAL.fullmatch(raw) else 0
    if value < 1 or (high is not None and value > high):
        bound = f"from 1 to {high}" if high is not None else "of at least 1"
        raise ValidationError({name: [f"Use a whole number {bound}."]})
    return value
