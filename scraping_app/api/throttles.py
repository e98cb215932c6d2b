from __future__ import annotations

import logging

from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

logger = logging.getLogger("scraping_app")


class ScrapeRateThrottle(ScopedRateThrottle):
    """DRF's scoped throttle ("scrape") with two changes: the rate is read per request (settings can change), and
    a cache outage lets the request through. The cache is Redis, and Redis being down must not turn a
    scrape into a 500."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # noqa: BLE001 - fail open: throttling is protection, not correctness
            logger.warning("Scrape throttle skipped, cache unavailable: %s", exc)
            return True
