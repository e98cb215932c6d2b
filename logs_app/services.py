"""Log services. MINIMAL until the logs issue (#5) lands."""

from __future__ import annotations


def log_entries_cleanup(*, older_than_days: int | None = None) -> dict:
    return {"deleted": 0}
