"""Prometheus metrics, derived at scrape time from the database and Redis.

Every process (web workers, the scheduler, `manage.py runjob`, other hosts) records its runs as JobRun rows, so
reading them at scrape time counts all of them, with no multiprocess directory to share. Counters stay monotonic
across retention: the clean-up adds the figures of the runs it is about to delete to MetricTotal first.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from logs_app import selectors
from scheduler_app import selectors as scheduler_selectors

PREFIX = "jobsite"


class JobsiteCollector:
    def collect(self):
        totals = selectors.run_metric_totals()

        acquisitions = CounterMetricFamily(f"{PREFIX}_lock_acquisitions", "Lock attempts by job and result "
                                           "(acquired on Redis, fallback to the database lease, blocked, error).",
                                           labels=["job_id", "result"])
        runs = CounterMetricFamily(f"{PREFIX}_runs", "Runs by job and status (every trigger leaves a run).",
                                   labels=["job_id", "status"])
        for (name, labels), value in sorted(totals.items()):
            if name == "lock_acquisitions":
                acquisitions.add_metric(list(labels), value)
            elif name == "runs":
                runs.add_metric(list(labels), value)
        yield acquisitions
        yield runs
        yield _histogram(totals, "lock_wait", f"{PREFIX}_lock_wait_seconds",
                         "Time spent waiting for the lock by runs that got it.", ["job_id"])
        yield _histogram(totals, "lock_held", f"{PREFIX}_lock_held_seconds",
                         "Time the lock was held by finished runs, by lock backend.", ["job_id", "backend"])
        yield _histogram(totals, "run_duration", f"{PREFIX}_run_duration_seconds",
                         "Duration of runs that started, by final status.", ["job_id", "status"])

        redis_ok = scheduler_selectors.lock_service_ping()
        states = scheduler_selectors.lock_states(include_redis=redis_ok)
        held = GaugeMetricFamily(f"{PREFIX}_lock_current_held_seconds", "Seconds each currently held lock has "
                                 "been held.", labels=["key", "backend"])
        for state in states:
            if state.extra.get("held_seconds") is not None:
                held.add_metric([state.key, state.backend], state.extra["held_seconds"])
        yield held
        yield GaugeMetricFamily(f"{PREFIX}_locks_held", "Locks held now (Redis keys and database leases).",
                                value=len(states))
        yield GaugeMetricFamily(f"{PREFIX}_stuck_locks", "Locks held past their job's timeout plus the lease, "
                                "or whose holder's run has finished.",
                                value=sum(1 for s in states if s.extra.get("stuck")))
        yield GaugeMetricFamily(f"{PREFIX}_scheduler_instances_alive", "Scheduler processes with a fresh "
                                "heartbeat.", value=len(scheduler_selectors.scheduler_instances_alive()))
        yield GaugeMetricFamily(f"{PREFIX}_redis_up", "1 when the lock's Redis answers a PING.",
                                value=1 if redis_ok else 0)


def _histogram(totals: dict, name: str, metric: str, documentation: str, labels: list[str]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(metric, documentation, labels=labels)
    series: dict[tuple[str, ...], list[tuple[str, float]]] = {}
    for (key, label_values), value in totals.items():
        if key == name:
            series.setdefault(label_values[:-1], []).append((label_values[-1], value))
    for label_values, buckets in sorted(series.items()):
        buckets.sort(key=lambda b: float(b[0]))  # "+Inf" parses as inf, so it sorts last
        family.add_metric(list(label_values), buckets, sum_value=totals.get((f"{name}_sum", label_values), 0.0))
    return family


registry = CollectorRegistry(auto_describe=False)
registry.register(JobsiteCollector())


def metrics_render() -> bytes:
    return generate_latest(registry)
