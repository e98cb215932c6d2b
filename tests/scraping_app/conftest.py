"""Local job boards: a real HTTP server on 127.0.0.1 (random port) per test, serving recorded or built responses.

Adapters talk to it over loopback with the real shared session: nothing in `requests` is mocked.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from scraping_app.models import JobSource
from scraping_app.sources import FetchResult, SearchQuery, source_class
from scraping_app.sources.http import Fetcher

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_json(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@dataclass
class Reply:
    body: object = None  # JSON-serialisable, or str/bytes sent as is
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    path: str
    query: dict
    headers: dict
    at: float


class Board:
    """Routes: path -> replies served in order (the last one repeats), or a callable(query) -> Reply."""

    def __init__(self):
        self.routes: dict[str, object] = {}
        self.seen: list[Seen] = []
        self._mutex = threading.Lock()
        board = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                parsed = urlparse(self.path)
                query = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(parsed.query).items()}
                reply = board._next(parsed.path, query, dict(self.headers))
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body
                if not isinstance(body, str | bytes):
                    body = json.dumps(body)
                data = body.encode() if isinstance(body, str) else body
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    def _next(self, path: str, query: dict, headers: dict) -> Reply:
        with self._mutex:
            self.seen.append(Seen(path, query, headers, time.monotonic()))
            route = self.routes.get(path)
            if route is None:
                return Reply({"detail": "not found"}, status=404)
            if callable(route):
                return route(query)
            return route.pop(0) if len(route) > 1 else route[0]

    def add(self, path: str, *replies) -> str:
        """Serve `replies` at `path`: Reply objects, bare JSON bodies, or one callable(query) -> Reply."""
        if len(replies) == 1 and callable(replies[0]):
            self.routes[path] = replies[0]
        else:
            self.routes[path] = [reply if isinstance(reply, Reply) else Reply(reply) for reply in replies]
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def hits(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def board():
    server = Board()
    yield server
    server.close()


@pytest.fixture
def fast_http(settings):
    """Short timeouts, no backoff, a small Retry-After cap: the failure paths in milliseconds."""
    settings.SCRAPE_HTTP_CONNECT_TIMEOUT = 1.0
    settings.SCRAPE_HTTP_READ_TIMEOUT = 0.5
    settings.SCRAPE_RETRY_TOTAL = 2
    settings.SCRAPE_RETRY_AFTER_CAP_SECONDS = 0.4
    settings.SCRAPE_RETRY_BACKOFF_FACTOR = 0
    return settings


def make_source(kind: str, url: str = "", *, name: str | None = None, params: dict | None = None,
                min_interval_seconds: float = 0.0, daily_request_cap: int | None = None,
                enabled: bool = True) -> JobSource:
    return JobSource.objects.create(kind=kind, name=name or f"{kind} {JobSource.objects.count() + 1}",
                                    base_url=url, params=params or {}, enabled=enabled,
                                    min_interval_seconds=min_interval_seconds, daily_request_cap=daily_request_cap)


def arbeitnow_page(items: list, *, has_next: bool) -> dict:
    return {"data": items, "links": {"next": "https://www.arbeitnow.com/api/job-board-api?page=2" if has_next
                                     else None}, "meta": {}}


def arbeitnow_endless(items: list, *, delay: float = 0.0):
    """A route for a board that always has a next page, each page `items` under ids of their own (`<slug>-p<N>`):
    a board a fetch reads until something else stops it (a page repeating the last one would stop it)."""
    def reply(query) -> Reply:
        page = query.get("page", "1")
        fresh = [{**item, "slug": f"{item['slug']}-p{page}"} for item in items]
        return Reply(arbeitnow_page(fresh, has_next=True), delay=delay)
    return reply


QUERY_ALL = SearchQuery(limit=100)


def adapter_fetch(kind: str, url: str, query: SearchQuery = QUERY_ALL, **params) -> tuple[FetchResult, Fetcher]:
    """One fetch by the `kind` adapter from `url`, with its own Fetcher (returned to read its request count)."""
    fetcher = Fetcher()
    result = source_class(kind)(base_url=url, params=params, fetcher=fetcher).fetch(query)
    return result, fetcher


def wait_until(condition, *, timeout: float = 5.0, interval: float = 0.02, message: str = "") -> None:
    """Poll `condition()` until it is true; fail the test if it is still false after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(message or f"condition still false after {timeout} s")
        time.sleep(interval)
