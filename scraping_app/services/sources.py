"""Managing job sources (the `sources` command and the admin call these)."""

from __future__ import annotations

from urllib.parse import urlparse

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from scraping_app.models import JobSource
from scraping_app.sources import SOURCE_CLASSES, source_class


class SourceInputError(ValueError):
    """Bad input for a source (unknown kind, bad URL, duplicate name, unknown id)."""


def source_add(*, kind: str, url: str | None = None, name: str | None = None, params: dict | None = None,
               enabled: bool = False) -> JobSource:
    """A new source with its board's default politeness budget. Disabled until enabled, unless asked."""
    try:
        adapter = source_class(kind)
    except ValueError as exc:
        raise SourceInputError(str(exc)) from None
    url = (url or "").strip()
    if url:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise SourceInputError(f"Invalid URL {url!r}: give a full http(s) URL") from None
    elif adapter.url_required:
        raise SourceInputError(f"--url is required for {kind} (e.g. {adapter.default_url})")
    name = (name or "").strip() or _default_name(adapter.label, url)
    if JobSource.objects.filter(name=name).exists():
        raise SourceInputError(f"A source named {name!r} already exists; pick another --name")
    return JobSource.objects.create(
        kind=kind, name=name, base_url=url or adapter.default_url, params=params or {}, enabled=enabled,
        min_interval_seconds=adapter.budget.min_interval_seconds,
        daily_request_cap=adapter.budget.daily_request_cap,
    )


def source_set_enabled(*, source_id: int, enabled: bool) -> JobSource:
    source = JobSource.objects.filter(pk=source_id).first()
    if source is None:
        raise SourceInputError(f"Unknown source id {source_id}; see `manage.py sources list`")
    if source.enabled != enabled:
        source.enabled = enabled
        source.save(update_fields=["enabled"])
    return source


def _default_name(label: str, url: str) -> str:
    if not url:
        return label
    path = [part for part in urlparse(url).path.split("/") if part and part not in _GENERIC_SEGMENTS]
    return f"{label} {path[-1] if path else urlparse(url).hostname}"[:100]


_GENERIC_SEGMENTS = {"api", "v0", "v1", "jobs", "boards", "postings", "posting-api", "job-board", "remote-jobs",
                     "job-board-api"}


__all__ = ["SOURCE_CLASSES", "SourceInputError", "source_add", "source_set_enabled"]
