"""The API's project-wide throttles, and the client IP that they and the admin's lockout (django-axes) share.

Both throttles read their rate per request (settings can change) and fail open: the cache is Redis, and a Redis
outage must never turn a request into a 500 (scheduler_app.api.throttles.FailOpenRate, which the scrape endpoint's
throttle shares). Throttling is protection, not correctness.
"""

from __future__ import annotations

import logging

from rest_framework import throttling
from rest_framework.settings import api_settings

from scheduler_app.api.throttles import FailOpenRate

logger = logging.getLogger("jobsite")


def client_ip(request) -> str:
    """The client's address as DRF's throttles see it: REMOTE_ADDR, or with REST_FRAMEWORK["NUM_PROXIES"] > 0 the
    address that many proxies back in X-Forwarded-For. django-axes uses it too (AXES_CLIENT_IP_CALLABLE)."""
    return throttling.BaseThrottle().get_ident(request)


class UserRateThrottle(FailOpenRate, throttling.UserRateThrottle):
    """DRF's "user" throttle (per user; per client IP for anonymous requests), the default of every API view."""


class AuthFailureThrottle(throttling.SimpleRateThrottle):
    """Counts requests with an invalid Bearer token per client IP, in fixed windows of the "auth_failures" rate
    (default 20/minute). Once a window holds that many failures, the client is refused until the window ends.

    Not a view throttle: BearerTokenAuthentication calls blocked_wait() before it checks a token and
    failure_record() when the token is invalid. A failure is one atomic INCR (no read-modify-write of a history, as
    DRF's throttles do), so concurrent guesses cannot slip past the count.
    """

    scope = "auth_failures"

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        return True  # see the docstring: this class only counts failures for the authentication class

    def _key_and_remaining(self, request) -> tuple[str, float]:
        now = self.timer()
        bucket = int(now // self.duration)
        return f"throttle_{self.scope}_{self.get_ident(request)}_{bucket}", (bucket + 1) * self.duration - now

    def blocked_wait(self, request) -> float | None:
        """Seconds until this client may present a token again; None when it may now (or the cache is down)."""
        if self.num_requests is None:
            return None
        key, remaining = self._key_and_remaining(request)
        try:
            failures = self.cache.get(key) or 0
        except Exception as exc:  # noqa: BLE001 - fail open, as above
            logger.warning("Token failure throttle skipped, cache unavailable: %s", exc)
            return None
        return remaining if failures >= self.num_requests else None

    def failure_record(self, request) -> None:
        if self.num_requests is None:
            return
        key, remaining = self._key_and_remaining(request)
        try:
            self.cache.add(key, 0, timeout=int(remaining) + 1)
            try:
                self.cache.incr(key)
            except ValueError:  # the key expired between add and incr: a new window
                self.cache.set(key, 1, timeout=self.duration)
        except Exception as exc:  # noqa: BLE001 - fail open, as above
            logger.warning("Token failure not counted, cache unavailable: %s", exc)
