"""Project-wide middleware: a server span per HTTP request while traces are on (scheduler_app.tracing).

The span continues the caller's trace (W3C `traceparent`), so a run the request starts, in the background too, is
part of the caller's trace. While traces are off Django drops this middleware when it loads the stack.
"""

from __future__ import annotations

import re

from django.core.exceptions import MiddlewareNotUsed

from scheduler_app import tracing

_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


class TraceMiddleware:
    def __init__(self, get_response):
        if not tracing.tracing_on():
            raise MiddlewareNotUsed  # off: not even a call per request
        self.get_response = get_response

    def __call__(self, request):
        with tracing.request_span(method=request.method, path=request.path, headers=request.headers) as span:
            response = self.get_response(request)
            match = getattr(request, "resolver_match", None)
            if match is not None and match.route:
                route = route_template(match.route)
                span.rename(f"HTTP {request.method} {route}")
                span.set("http.route", route)
            span.set("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.error(f"HTTP {response.status_code}")
        return response


def route_template(route: str) -> str:
    """A resolver's route as a span name of few values: `api/v1/^scheduler/runs/(?P<pk>[0-9]{1,18})/?$` becomes
    `api/v1/scheduler/runs/<pk>` (the path itself would make one name per id)."""
    return "/" + _GROUP.sub(r"<\1>", route).replace("^", "").replace("/?$", "").replace("$", "").lstrip("/")
