"""Traces (OpenTelemetry), optional and free when off: the helpers every module calls, public to the other apps.

Traces are on when the process's environment asks for them the standard way (`OTEL_TRACES_EXPORTER` set and not
"none", or `OTEL_EXPORTER_OTLP_ENDPOINT` set) and the OpenTelemetry SDK is installed. That is decided once, at the
first call of any helper. When off, every helper returns a shared no-op and nothing of OpenTelemetry is imported:
the SDK lives in `tracing_otel`, loaded only when traces are on.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol

logger = logging.getLogger("scheduler_app")


class RunSpan(Protocol):
    """A run's span (or the no-op): `run_trace` returns one."""

    handed_off: bool

    def set(self, key: str, value: Any) -> None: ...
    def current(self) -> AbstractContextManager: ...
    def hand_off(self) -> None: ...
    def end(self, status: str, error: str = "") -> None: ...
    def fail(self, exc: BaseException) -> None: ...


class NoSpan:
    """What a helper yields while traces are off: accepts everything, records nothing."""

    __slots__ = ()
    handed_off = False

    def set(self, key: str, value: Any) -> None:
        pass

    def error(self, description: str) -> None:
        pass

    def rename(self, name: str) -> None:
        pass

    # The run span's lifecycle (see RunTrace in tracing_otel).
    def current(self) -> AbstractContextManager:
        return NOOP

    def hand_off(self) -> None:
        pass

    def end(self, status: str, error: str = "") -> None:
        pass

    def fail(self, exc: BaseException) -> None:
        pass


NO_SPAN = NoSpan()
NOOP: AbstractContextManager[NoSpan] = nullcontext(NO_SPAN)  # reusable: nullcontext keeps no state

_UNDECIDED = object()
_impl: Any = _UNDECIDED  # None (off) or the tracing_otel module
_decide_mutex = threading.Lock()


def traces_wanted(environ: Mapping[str, str]) -> bool:
    """Does this environment ask for traces? The SDK's own variables, read the SDK's way."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
                or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip())


def tracing_decide(environ: Mapping[str, str] | None = None, *, first: bool = False) -> Any:
    """Decide whether traces are on (from `environ`, default the process's) and set the SDK up if so. Called once
    by the first helper (`first`: unless another thread just did); tests call it again with an environment of their
    own."""
    global _impl
    environ = os.environ if environ is None else environ
    with _decide_mutex:
        if first and _impl is not _UNDECIDED:
            return _impl
        _impl = None
        if traces_wanted(environ):
            try:
                # The SDK loads only when traces are on: an unconfigured process never imports it.
                from scheduler_app import tracing_otel  # noqa: PLC0415
            except ImportError as exc:
                logger.warning("Traces are configured (OTEL_*) but OpenTelemetry is not installed (%s): no traces",
                               exc)
            else:
                try:
                    tracing_otel.provider_setup(environ)
                    _impl = tracing_otel
                except Exception:  # noqa: BLE001 - a bad OTEL_* value must not stop a run or a request
                    logger.exception("Traces are configured (OTEL_*) but could not be set up: no traces")
        return _impl


def _on() -> Any:
    impl = _impl
    return tracing_decide(first=True) if impl is _UNDECIDED else impl


def tracing_on() -> bool:
    return _on() is not None


def span(name: str, attributes: Mapping[str, Any] | None = None) -> AbstractContextManager:
    """A child span of the current one, current inside the block; yields an object with set/error/rename.
    An exception leaving the block marks the span ERROR."""
    impl = _on()
    return NOOP if impl is None else impl.span(name, attributes)


def request_span(*, method: str, path: str, headers: Mapping[str, str]) -> AbstractContextManager:
    """A server span for one HTTP request, continuing the caller's trace (W3C `traceparent` in `headers`)."""
    impl = _on()
    return NOOP if impl is None else impl.request_span(method=method, path=path, headers=headers)


def run_trace(*, job_id: str, trigger: str) -> RunSpan:
    """The span of one run, started now (a child of the current span). Not current until `current()`; ended by
    `end(status)` or `fail(exc)`, by whichever thread finishes the run (`hand_off()` says it is not this one)."""
    impl = _on()
    return NO_SPAN if impl is None else impl.RunTrace(job_id=job_id, trigger=trigger)


def context_capture() -> Any:
    """This thread's trace context, for a thread that carries on its work (None while traces are off)."""
    impl = _on()
    return None if impl is None else impl.context_capture()


def context_attached(captured: Any) -> AbstractContextManager:
    """Inside the block, this thread's spans continue the captured context."""
    impl = _on()
    return NOOP if captured is None or impl is None else impl.context_attached(captured)
