"""The rule every throttle of the API follows (a public module of the framework): the rate is read per request
(settings can change), and a cache outage lets the request through. The cache is Redis, and a Redis outage must
never turn a request into a 500: throttling is protection, not correctness."""

from __future__ import annotations

import logging

from rest_framework.settings import api_settings

logger = logging.getLogger("scheduler_app")


class FailOpenRate:
    """Mixed in before a DRF SimpleRateThrottle subclass."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # noqa: BLE001 - fail open: throttling is protection, not correctness
            logger.warning("%s skipped, cache unavailable: %s", type(self).__name__, exc)
            return True
