"""Tracing overhead: what jobsite's OpenTelemetry spans cost, off (the default) and on, against the OpenTelemetry
API used unconditionally (the way an always-instrumented library pays for it when no SDK is configured).

Run:  .venv/bin/python benchmarks/bench_tracing.py [--spans 200000] [--runs 500]
Needs Redis at BENCH_REDIS_URL (default redis://127.0.0.1:6379/13). Uses a temporary SQLite database.

  - per span: enter and leave one span, in a loop: jobsite's helper while traces are off, the OpenTelemetry API
    with no SDK configured (its no-op ProxyTracer), and jobsite's helper with the SDK on (a SimpleSpanProcessor
    into an exporter that keeps nothing);
  - per run: a whole no-op job (`job_run` of a decorated function: record, lock, start, body, finish, release) with
    traces off and on; a run makes three spans (the run, the lock, the body).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


def setup_django(database_url: str) -> None:
    os.environ.update(DATABASE_URL=database_url, REDIS_URL=REDIS_URL, DJANGO_SETTINGS_MODULE="jobsite.settings",
                      LOG_LEVEL="WARNING", LOG_DB_ENABLED="false")
    os.environ.setdefault("DEBUG", "1")  # development settings (no SECRET_KEY needed); DEBUG off below
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DEBUG = False
    call_command("migrate", verbosity=0, interactive=False)


class DropExporter:
    """An exporter that keeps nothing: the SDK's own cost, without an exporter's I/O."""

    def export(self, spans):
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self):
        pass

    def force_flush(self, timeout_millis: int = 30000):
        return True


def per_span(loops: int, enter) -> float:
    start = time.perf_counter()
    for _ in range(loops):
        with enter():
            pass
    return (time.perf_counter() - start) / loops


def per_run(runs: int) -> list[float]:
    from scheduler_app.services import job_run

    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        run = job_run(job_id="bench_noop_job", trigger="cli")
        samples.append(time.perf_counter() - start)
        assert run.status == "SUCCEEDED", run.status
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(f"sqlite:///{tmp}/bench.sqlite3")
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        from scheduler_app import tracing
        from scheduler_app.job_wrapper import with_execution_lock

        globals()["bench_noop_job"] = with_execution_lock(timeout_minutes=1, name="Bench no-op")(
            _named(lambda: None, "bench_noop_job"))

        tracing.tracing_decide({})  # off
        api_tracer = trace.get_tracer("bench")  # no SDK yet: the API's no-op proxy
        off_span = per_span(args.spans, lambda: tracing.span("bench"))
        api_span = per_span(args.spans, lambda: api_tracer.start_as_current_span("bench"))
        per_run(min(50, args.runs))  # warm up: definitions, connections, Redis scripts
        off_runs = per_run(args.runs)

        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(DropExporter()))
        trace.set_tracer_provider(provider)
        tracing.tracing_decide({"OTEL_TRACES_EXPORTER": "console"})  # on, with the provider just set
        on_span = per_span(args.spans, lambda: tracing.span("bench"))
        on_runs = per_run(args.runs)

    def us(seconds: float) -> str:
        return f"{seconds * 1e6:,.2f} us"

    print(f"\nPer span (enter + leave), {args.spans:,} spans; last column vs the OpenTelemetry API with no SDK")
    print(f"{'what':62} {'per span':>12} {'vs API no-op':>13}")
    for label, cost in (("jobsite tracing.span(), traces off (default)", off_span),
                        ("OpenTelemetry API, no SDK configured (ProxyTracer)", api_span),
                        ("jobsite tracing.span(), traces on (SDK, SimpleSpanProcessor)", on_span)):
        print(f"{label:62} {us(cost):>12} {cost / api_span:>12.2f}x")

    off_p50, on_p50 = statistics.median(off_runs), statistics.median(on_runs)
    print(f"\nPer run: a no-op job through job_run (SQLite, Redis at {REDIS_URL}), {args.runs} runs; 3 spans a run")
    print(f"{'what':62} {'p50':>12} {'p99':>12} {'vs off':>8}")
    for label, samples in (("traces off (default)", off_runs), ("traces on (SDK, SimpleSpanProcessor)", on_runs)):
        p99 = sorted(samples)[int(0.99 * (len(samples) - 1))]
        print(f"{label:62} {us(statistics.median(samples)):>12} {us(p99):>12} "
              f"{statistics.median(samples) / off_p50:>7.2f}x")
    print(f"\nTraces on add {us(on_p50 - off_p50)} to a run's p50.")


def _named(func, name: str):
    func.__name__ = func.__qualname__ = name
    func.__module__ = __name__
    return func


if __name__ == "__main__":
    main()
