"""The OpenTelemetry side of `scheduler_app.tracing`, imported by it only when traces are on.

The provider is the SDK's, configured from the standard variables: the resource from `OTEL_SERVICE_NAME` and
`OTEL_RESOURCE_ATTRIBUTES` (`Resource.create()`), the exporters from `OTEL_TRACES_EXPORTER` (`console`, `otlp`
over HTTP/protobuf; `otlp` alone when only `OTEL_EXPORTER_OTLP_ENDPOINT` is set). A provider someone else set
first (a test, `opentelemetry-instrument`) is used as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import ProxyTracerProvider, SpanKind, Status, StatusCode

logger = logging.getLogger("scheduler_app")

TRACER_NAME = "jobsite"
# The run statuses whose run span ends with status ERROR (the others end UNSET: a refusal is not an error).
ERROR_STATUSES = frozenset({"FAILED", "TIMED_OUT", "LOST_LOCK"})


def provider_setup(environ: Mapping[str, str]) -> None:
    if not isinstance(trace.get_tracer_provider(), ProxyTracerProvider):
        return  # already configured globally: its owner chose the exporters
    # shutdown_on_exit: an atexit hook flushes the batch, so a short-lived `runjob` exports its spans too.
    provider = TracerProvider(resource=Resource.create(), shutdown_on_exit=True)
    for exporter in _exporters(environ):
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)


def _exporters(environ: Mapping[str, str]) -> list[SpanExporter]:
    names = [name.strip().lower() for name in environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")]
    exporters: list[SpanExporter] = []
    for name in names:
        if name == "console":
            exporters.append(ConsoleSpanExporter())
        elif name == "otlp":
            # protobuf and the HTTP exporter load only for `otlp`.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415

            exporters.append(OTLPSpanExporter())  # endpoint, headers, timeout: from OTEL_EXPORTER_OTLP_*
        elif name and name != "none":
            logger.warning("OTEL_TRACES_EXPORTER: unknown exporter %r ignored (console and otlp are supported)",
                           name)
    return exporters


def _tracer() -> trace.Tracer:
    # Looked up per span, not cached: the global provider may be set after this module loads.
    return trace.get_tracer(TRACER_NAME)


def _clean(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (attributes or {}).items() if value is not None}


class Span:
    """A live span behind the helpers' small interface (the same as tracing.NoSpan's)."""

    __slots__ = ("span",)

    def __init__(self, span: trace.Span):
        self.span = span

    def set(self, key: str, value: Any) -> None:
        if value is not None:
            self.span.set_attribute(key, value)

    def error(self, description: str) -> None:
        self.span.set_status(Status(StatusCode.ERROR, description))

    def rename(self, name: str) -> None:
        self.span.update_name(name)


@contextmanager
def span(name: str, attributes: Mapping[str, Any] | None) -> Iterator[Span]:
    with _tracer().start_as_current_span(name, attributes=_clean(attributes)) as live:
        yield Span(live)


@contextmanager
def request_span(*, method: str, path: str, headers: Mapping[str, str]) -> Iterator[Span]:
    parent = propagate.extract(headers)  # the caller's `traceparent`, if any
    attributes = {"http.request.method": method, "url.path": path}
    with _tracer().start_as_current_span(f"HTTP {method}", context=parent, kind=SpanKind.SERVER,
                                         attributes=attributes) as live:
        yield Span(live)


class RunTrace(Span):
    """A run's span. It spans threads (a background run ends in its own thread), so it is started and ended by
    hand, and made current only where this process works on the run."""

    __slots__ = ("handed_off",)

    def __init__(self, *, job_id: str, trigger: str):
        super().__init__(_tracer().start_span(f"job.run {job_id}",
                                              attributes={"job.id": job_id, "job.trigger": trigger}))
        self.handed_off = False

    def current(self):
        return trace.use_span(self.span, end_on_exit=False, record_exception=False, set_status_on_exception=False)

    def hand_off(self) -> None:
        self.handed_off = True

    def end(self, status: str, error: str = "") -> None:
        self.span.set_attribute("job.status", status)
        if status in ERROR_STATUSES:
            self.error(error or status)
        self.span.end()

    def fail(self, exc: BaseException) -> None:
        self.span.record_exception(exc)
        self.error(f"{type(exc).__name__}: {exc}")
        self.span.end()


def context_capture() -> otel_context.Context:
    return otel_context.get_current()


@contextmanager
def context_attached(captured: otel_context.Context) -> Iterator[None]:
    token = otel_context.attach(captured)
    try:
        yield
    finally:
        otel_context.detach(token)
