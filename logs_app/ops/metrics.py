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
        yield from _counters(totals)
        yield _histogram(totals, "lock_wait", f"{PREFIX}_lock_wait_seconds",
                         "Time spent waiting for the lock by runs that got it.", ["job_id"])
        yield _histogram(totals, "lock_held", f"{PREFIX}_lock_held_seconds",
                         "Time the lock was held by finished runs, by lock backend.", ["job_id", "backend"])
        yield _histogram(totals, "run_duration", f"{PREFIX}_run_duration_seconds",
                         "Duration of runs that started, by final status.", ["job_id", "status"])
        yield _histogram(totals, "start_lateness", f"{PREFIX}_run_start_lateness_seconds",
                         "Scheduled runs: start minus slot (lock wait included).", ["job_id"])
        yield from _job_gauges()
        yield from _lock_gauges()
        last_beat = scheduler_selectors.scheduler_last_heartbeat()
        yield GaugeMetricFamily(f"{PREFIX}_scheduler_instances_alive", "Scheduler processes with a fresh "
                                "heartbeat.", value=len(scheduler_selectors.scheduler_instances_alive()))
        yield GaugeMetricFamily(f"{PREFIX}_scheduler_last_heartbeat_timestamp_seconds", "Newest heartbeat of a "
                                "scheduler that has not stopped (Unix time; 0 when none has run).",
                                value=last_beat.timestamp() if last_beat else 0)


# (total's name, metric, help, labels): counters over the run history, each `<metric>_total` in the exposition.
COUNTERS = (
    ("runs", "runs", "Runs by job and status (every trigger leaves a run).", ["job_id", "status"]),
    ("lock_acquisitions", "lock_acquisitions", "Lock attempts by job and result (acquired on Redis, fallback to "
     "the database lease, blocked, error).", ["job_id", "result"]),
    ("skips", "skips", "SKIPPED runs by job, reason and trigger.", ["job_id", "reason", "trigger"]),
    ("misses", "misses", "MISSED schedule slots by job and reason.", ["job_id", "reason"]),
    ("scheduled_slots", "scheduled_slots", "Schedule slots fired or missed, each counted once (a second fire "
     "of a slot is a skip, not a slot).", ["job_id"]),
)


def _counters(totals: dict):
    families = {name: CounterMetricFamily(f"{PREFIX}_{metric}", documentation, labels=labels)
                for name, metric, documentation, labels in COUNTERS}
    for (name, labels), value in sorted(totals.items()):
        if name in families:
            families[name].add_metric(list(labels), value)
    yield from families.values()


def _job_gauges():
    in_flight = GaugeMetricFamily(f"{PREFIX}_runs_in_flight", "RUNNING runs with a fresh heartbeat.",
                                  labels=["job_id"])
    failing = GaugeMetricFamily(f"{PREFIX}_job_consecutive_failures", "Runs that failed (FAILED, TIMED_OUT, "
                                "LOST_LOCK, ABANDONED) since the job's last success.", labels=["job_id"])
    last_success = GaugeMetricFamily(f"{PREFIX}_job_last_success_timestamp_seconds", "When the job's last "
                                     "successful run finished (Unix time; absent when it never succeeded).",
                                     labels=["job_id"])
    stuck_after = GaugeMetricFamily(f"{PREFIX}_lock_stuck_after_seconds", "How long a lock of the job may be "
                                    "held before it counts as stuck: its timeout plus the lease.", labels=["job_id"])
    for job in scheduler_selectors.job_health_list():
        in_flight.add_metric([job.job_id], job.in_flight)
        failing.add_metric([job.job_id], job.consecutive_failures)
        stuck_after.add_metric([job.job_id], job.stuck_after_seconds)
        if job.last_success_at is not None:
            last_success.add_metric([job.job_id], job.last_success_at.timestamp())
    yield from (in_flight, failing, last_success, stuck_after)


def _lock_gauges():
    redis_ok = scheduler_selectors.lock_service_ping()
    states = scheduler_selectors.lock_states(include_redis=redis_ok)
    # By job, not by key: a team-scoped key names its team, and team ids stay out of labels. The longest-held
    # lock of a job is the one an alert is about.
    longest: dict[tuple[str, str], float] = {}
    for state in states:
        held = state.extra.get("held_seconds")
        if held is not None:
            label = (state.job_id, state.backend)
            longest[label] = max(held, longest.get(label, 0.0))
    held = GaugeMetricFamily(f"{PREFIX}_lock_current_held_seconds", "Seconds the longest-held current lock of "
                             "each job has been held, by backend.", labels=["job_id", "backend"])
    for label, seconds in sorted(longest.items()):
        held.add_metric(list(label), seconds)
    yield held
    yield GaugeMetricFamily(f"{PREFIX}_locks_held", "Locks held now (Redis keys and database leases).",
                            value=len(states))
    yield GaugeMetricFamily(f"{PREFIX}_stuck_locks", "Locks held past their job's timeout plus the lease, "
                            "or whose holder's run has finished.",
                            value=sum(1 for s in states if s.extra.get("stuck")))
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
