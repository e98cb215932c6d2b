"""CSV export of a postings query (`?format=csv` or `Accept: text/csv`): streamed row by row from a keyset
iteration, so a large export never loads into memory. Cells that a spreadsheet would run as a formula (= + - @, and
tab / carriage return) are prefixed with an apostrophe."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse
from django.utils import timezone
from rest_framework.renderers import BaseRenderer

COLUMNS = ["id", "title", "company", "location", "is_remote", "employment_type", "employment_type_normalized",
           "seniority", "salary_min", "salary_max", "salary_currency", "salary_period", "salary_annual_min",
           "salary_annual_max", "tags", "posted_at", "first_seen_at", "source", "source_job_id", "url", "apply_url",
           "other_sources"]
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class PostingCSVRenderer(BaseRenderer):
    """Lets content negotiation accept text/csv and ?format=csv; the view streams the body itself."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        raise NotImplementedError("postings CSV is streamed by the view (csv_response)")


class _Echo:
    def write(self, value: str) -> str:
        return value


def cell_safe(value) -> str:
    """A cell as text, with a leading apostrophe where it would start a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        value = ", ".join(str(item) for item in value)
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _row(posting) -> list[str]:
    values = {name: getattr(posting, name) for name in COLUMNS if name not in ("source", "other_sources")}
    values["source"] = posting.source.name
    values["other_sources"] = " ".join(url for url in posting.other_source_urls if url)  # postings_iterate's
    return [cell_safe(values[name]) for name in COLUMNS]


def csv_lines(postings: Iterable) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for posting in postings:
        yield writer.writerow(_row(posting))


def csv_response(postings: Iterable) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(postings), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="jobs-{timezone.now():%Y%m%d-%H%M%S}.csv"'
    return response
