"""The one HTTP session every adapter shares, and the per-fetch `Fetcher` that paces, counts and stops requests.

Retries (urllib3 `Retry`) cover 429 and 5xx and honour `Retry-After`, capped so that a board asking for an hour
cannot keep a job holding its lock: after the cap, the board's failure is reported instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from scheduler_app import tracing

USER_AGENT = "jobsite-scraper/1.0 (team job-search project; +http://localhost:8000/api/docs/) python-requests"
RETRY_STATUSES = (429, 500, 502, 503, 504)


# A board still answering 429 after our retries is left alone this long (or for its own Retry-After, uncapped).
RATE_LIMIT_COOLDOWN_SECONDS = 900.0


class BoardError(Exception):
    """A board could not be read (HTTP error after retries, timeout, bad JSON). Reported per board.

    `cooldown_seconds`: the board asked us to stay away (429, or 503 with Retry-After); the source's budget keeps
    every trigger off it for that long.
    """

    def __init__(self, message: str, *, cooldown_seconds: float | None = None):
        super().__init__(message)
        self.cooldown_seconds = cooldown_seconds


class BudgetExhausted(Exception):
    """This fetch used the requests its politeness budget allowed; the adapter stops paging."""


class RunBudgetExhausted(BudgetExhausted):
    """The scrape run's time budget (SCRAPE_RUN_BUDGET_SECONDS) ran out; the adapter stops paging."""


class CappedRetry(Retry):
    """`Retry` whose `Retry-After` wait never exceeds `retry_after_cap` seconds."""

    retry_after_cap: float = 10.0

    def parse_retry_after(self, retry_after: str) -> float | None:
        """Also accepts fractional seconds; an unreadable value falls back to the backoff instead of failing."""
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
        try:
            return super().parse_retry_after(retry_after)
        except Exception:  # noqa: BLE001 - urllib3's InvalidHeader: ignore the header, keep retrying
            return None

    def get_retry_after(self, response) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, self.retry_after_cap)

    def new(self, **kw: Any) -> CappedRetry:
        retry = super().new(**kw)
        retry.retry_after_cap = self.retry_after_cap
        return retry


_sessions: dict[tuple, requests.Session] = {}
_sessions_mutex = threading.Lock()


def http_session_get() -> requests.Session:
    """The process-wide session for the current retry settings (one connection pool for every board)."""
    config = (settings.SCRAPE_RETRY_TOTAL, settings.SCRAPE_RETRY_AFTER_CAP_SECONDS,
              settings.SCRAPE_RETRY_BACKOFF_FACTOR)
    with _sessions_mutex:
        session = _sessions.get(config)
        if session is None:
            session = _sessions[config] = _session_build(*config)
        return session


def _session_build(total: int, retry_after_cap: float, backoff_factor: float) -> requests.Session:
    retry = CappedRetry(total=total, connect=total, read=min(total, 1), status=total,
                        status_forcelist=RETRY_STATUSES, allowed_methods=frozenset({"GET"}),
                        backoff_factor=backoff_factor, backoff_max=retry_after_cap,
                        respect_retry_after_header=True, raise_on_status=False)
    retry.retry_after_cap = retry_after_cap
    adapter = HTTPAdapter(max_retries=retry, pool_connections=16, pool_maxsize=16)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    return session


class Fetcher:
    """One board's fetch: JSON GETs on the shared session, paced by the board's minimum interval, stopped by
    its remaining daily budget, by the run's deadline (time.monotonic(); no page starts at or after it) and by
    the job's cancellation checkpoint."""

    def __init__(self, *, min_interval_seconds: float = 0.0, max_requests: int | None = None,
                 checkpoint: Callable[[], None] | None = None,
                 on_page: Callable[[int, int | None], None] | None = None, deadline: float | None = None,
                 board: str = ""):
        self.board = board  # the source's name, for its fetches' spans
        self.min_interval_seconds = min_interval_seconds
        self.max_requests = max_requests
        self.checkpoint = checkpoint or (lambda: None)
        self.on_page = on_page or (lambda done, total: None)
        self.deadline = deadline
        self.requests = 0
        self._last_request = 0.0

    def deadline_check(self, *, wait: float = 0.0) -> None:
        """Raise RunBudgetExhausted if a page started after `wait` more seconds would start at or past the run's
        deadline. A page already under way is never cut short: the run's bound is its budget plus one page."""
        if self.deadline is not None and time.monotonic() + max(0.0, wait) >= self.deadline:
            raise RunBudgetExhausted(f"the run's time budget (SCRAPE_RUN_BUDGET_SECONDS) ran out after "
                                     f"{self.requests} request(s); stopped paging")

    def get_json(self, url: str, params: dict | None = None) -> Any:
        if self.max_requests is not None and self.requests >= self.max_requests:
            raise BudgetExhausted(f"daily request budget reached after {self.requests} request(s)")
        wait = self.min_interval_seconds - (time.monotonic() - self._last_request) if self.requests else 0.0
        self.deadline_check(wait=wait)
        if self.requests:
            self.pause(wait)
        self.checkpoint()
        self.requests += 1
        self._last_request = time.monotonic()
        timeout = (settings.SCRAPE_HTTP_CONNECT_TIMEOUT, settings.SCRAPE_HTTP_READ_TIMEOUT)
        # One span per page (its retries inside); a BoardError leaving it marks it ERROR.
        with tracing.span("board.fetch", {"board.name": self.board, "server.address": urlsplit(url).hostname,
                                          "http.request.method": "GET"}) as span:
            try:
                response = http_session_get().get(url, params=params, timeout=timeout)
            except requests.exceptions.RequestException as exc:
                kind = "timeout" if _is_timeout(exc) else "connection error"
                raise BoardError(f"{kind}: {_short(exc)}") from exc
            span.set("http.response.status_code", response.status_code)
            if response.status_code >= 400:
                raise BoardError(f"HTTP {response.status_code} from {response.url}",
                                 cooldown_seconds=_cooldown(response))
            try:
                return response.json()
            except ValueError as exc:
                raise BoardError(f"malformed JSON from {response.url}: {_short(exc)}") from exc

    def pause(self, seconds: float) -> None:
        """Sleep in short slices so a timed-out job stops promptly."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.checkpoint()
            time.sleep(min(left, 0.1))
        self.checkpoint()


def _cooldown(response: requests.Response) -> float | None:
    header = response.headers.get("Retry-After")
    asked = CappedRetry(total=0).parse_retry_after(header) if header else None
    if response.status_code == 429:
        return asked if asked is not None else RATE_LIMIT_COOLDOWN_SECONDS
    return asked if response.status_code == 503 else None


def _is_timeout(exc: BaseException) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, requests.exceptions.Timeout) or "timed out" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _short(exc: BaseException, limit: int = 200) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[: limit - 1] + "…"
