from __future__ import annotations

from rest_framework.throttling import ScopedRateThrottle

from scheduler_app.api.throttles import FailOpenRate


class ScrapeRateThrottle(FailOpenRate, ScopedRateThrottle):
    """DRF's scoped throttle ("scrape"), failing open like every throttle here (scheduler_app.api.throttles)."""
