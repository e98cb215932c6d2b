"""Scheduler reads. The API, the admin, the CLI and the operations views (/healthz, /metrics) show the same facts
from these functions."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone
from django_apscheduler.models import DjangoJob

from scheduler_app import locks, raw_sql
from scheduler_app.locks import LockState
from scheduler_app.models import JobDefinition, JobRun, SchedulerInstance
from scheduler_app.scheduler import triggers


def lease_ago() -> datetime:
    """A RUNNING run whose heartbeat is older than this is dead (heartbeats come every third of a lease)."""
    return timezone.now() - timedelta(seconds=settings.LOCK_LEASE_SECONDS)


@dataclass(frozen=True)
class Refusal:
    """Why a trigger did not start, as every entry point reports it: the API (409/503), the admin message, runjob's
    exit code (3/4) and a direct call's exception."""

    LOCK_HELD = "lock_held"  # another run holds the key, or the database still has a live run of it
    LOCK_UNAVAILABLE = "lock_unavailable"  # Redis unreachable and LOCK_FALLBACK=fail
    NOT_RECORDED = "not_recorded"  # the database could not take the run row

    kind: str
    job_id: str
    run_id: int | None
    holder: dict | None = None
    ttl_seconds: float | None = None
    heartbeat_age_seconds: float | None = None
    refused_by: str | None = None  # "lock" (the key) or "database" (the guard)
    error: str = ""

    @property
    def detail(self) -> str:
        return {self.LOCK_HELD: "Job is already running", self.LOCK_UNAVAILABLE: "Lock service unavailable",
                self.NOT_RECORDED: "Run could not be recorded"}[self.kind]

    @property
    def http_status(self) -> int:
        """409 while the lock is held; 503 when the lock service is unavailable or the run row cannot be written."""
        return 409 if self.kind == self.LOCK_HELD else 503

    @property
    def holder_text(self) -> str:
        """'held by vm:2112, run #26; lock TTL 26 s; heartbeat 2.0 s ago'."""
        holder = self.holder or {}
        parts = [f"held by {holder.get('host')}:{holder.get('pid')}" if holder else "held by another holder"]
        if holder.get("run_id"):
            parts[0] += f", run #{holder['run_id']}"
        if isinstance(self.ttl_seconds, int | float):
            parts.append(f"lock TTL {self.ttl_seconds:.0f} s")
        if isinstance(self.heartbeat_age_seconds, int | float):
            parts.append(f"heartbeat {self.heartbeat_age_seconds:.1f} s ago")
        return "; ".join(parts)

    @property
    def message(self) -> str:
        if self.kind == self.LOCK_HELD:
            return f"{self.detail} ({self.holder_text})"
        return f"{self.detail}: {self.error}"

    def as_dict(self) -> dict:
        body = {"detail": self.detail, "job_id": self.job_id, "run_id": self.run_id}
        if self.kind == self.LOCK_HELD:
            body.update(holder=self.holder, ttl_seconds=self.ttl_seconds,
                        heartbeat_age_seconds=self.heartbeat_age_seconds, refused_by=self.refused_by)
        else:
            body["error"] = self.error
        return body


def run_refusal(*, run: JobRun) -> Refusal | None:
    """Why `run` did not start, or None for a run that started (or a slot another scheduler ran)."""
    if run.status != JobRun.Status.SKIPPED or run.skip_reason not in (JobRun.SkipReason.LOCK_HELD,
                                                                      JobRun.SkipReason.LOCK_UNAVAILABLE):
        return None
    if run.skip_reason == JobRun.SkipReason.LOCK_UNAVAILABLE:
        return Refusal(kind=Refusal.LOCK_UNAVAILABLE, job_id=run.job_id, run_id=run.pk, error=run.error)
    blocked = run.blocked_by or {}
    return Refusal(kind=Refusal.LOCK_HELD, job_id=run.job_id, run_id=run.pk, holder=blocked.get("holder"),
                   ttl_seconds=blocked.get("ttl_seconds"), heartbeat_age_seconds=blocked.get("heartbeat_age_seconds"),
                   refused_by=blocked.get("refused_by"), error=run.error)


def run_not_recorded_refusal(*, job_id: str, error: Exception) -> Refusal:
    """The refusal for a trigger whose run row could not be written (services.RunNotRecorded)."""
    return Refusal(kind=Refusal.NOT_RECORDED, job_id=job_id, run_id=None, error=str(error))


def lock_states(*, include_redis: bool = True) -> list[LockState]:
    """Every held lock with `stale`, `stale_reason`, `stuck` and the holder's run status in `extra`.

    Stale: the holder's run has finished or been abandoned, or the key has no TTL. A live holder is never stale.
    Stuck (alerts, /healthz): held longer than the job's timeout plus the lease.
    `include_redis=False` lists the database leases only (a caller that already knows Redis is down).
    """
    if include_redis:
        states, _redis_ok = locks.list_locks()
    else:
        states = locks.database_backend().list()
    run_ids = [s.holder.run_id for s in states if s.holder and s.holder.run_id]
    run_status = dict(JobRun.objects.filter(pk__in=run_ids).values_list("pk", "status"))
    timeouts = dict(JobDefinition.objects.values_list("job_id", "timeout_minutes"))
    now = time.time()
    for state in states:
        holder = state.holder
        status = run_status.get(holder.run_id) if holder and holder.run_id else None
        reason = ""
        if state.ttl_seconds is None:
            reason = "no TTL"
        elif status is not None and status != JobRun.Status.RUNNING and status != JobRun.Status.QUEUED:
            reason = f"holder's run is {status}"
        held = now - holder.acquired_at if holder and holder.acquired_at else None
        limit = timeouts.get(state.job_id, 0) * 60 + settings.LOCK_LEASE_SECONDS
        state.extra.update(
            run_status=status,
            stale=bool(reason),
            stale_reason=reason,
            held_seconds=None if held is None else round(held, 3),
            stuck=bool(reason) or (held is not None and held > limit),
        )
    return states


def lock_state_dicts() -> list[dict]:
    return [{**state.as_dict(), **state.extra} for state in lock_states()]


def scheduler_instances_alive() -> list:
    """Scheduler processes whose heartbeat is fresh (under SCHEDULER_STALE_SECONDS old)."""



    fresh_after = timezone.now() - timedelta(seconds=settings.SCHEDULER_STALE_SECONDS)
    return list(SchedulerInstance.objects.filter(heartbeat_at__gte=fresh_after, stopped_at__isnull=True))


# --- Scheduler status, run history and the dashboard ------------------------------------------------------------------

def job_definitions_version() -> tuple:
    """Changes whenever a definition is added, removed, edited or a reload is requested (the DB control path)."""

    agg = JobDefinition.objects.aggregate(n=Count("id"), newest=Max("updated_at"))
    return agg["n"], agg["newest"]


def scheduled_slot_has_run(*, job_id: str, scheduled_for) -> bool:
    """Has this slot a run that the per-slot guard counts (anything but SKIPPED/MISSED)?"""
    return (JobRun.objects.filter(job_id=job_id, trigger=JobRun.Trigger.SCHEDULED, scheduled_for=scheduled_for)
            .exclude(status__in=[JobRun.Status.SKIPPED, JobRun.Status.MISSED]).exists())


def scheduled_slots_run(*, job_id: str, slots: list) -> set:
    """Those of `slots` that have a run the per-slot guard counts (any scheduler's)."""
    return set(JobRun.objects.filter(job_id=job_id, trigger=JobRun.Trigger.SCHEDULED,
                                     scheduled_for__gte=min(slots), scheduled_for__lte=max(slots))
               .exclude(status__in=[JobRun.Status.SKIPPED, JobRun.Status.MISSED])
               .values_list("scheduled_for", flat=True))


def _iso(value, zone=None) -> str | None:
    if value is None:
        return None
    return value.astimezone(zone or ZoneInfo(settings.TIME_ZONE)).isoformat()


_RUN_BRIEF_FIELDS = ("id", "status", "trigger", "skip_reason", "scheduled_for", "started_at", "finished_at",
                     "duration_ms", "heartbeat_at")


def _run_brief(run: tuple | None, zone) -> dict | None:
    """A run row in `_RUN_BRIEF_FIELDS` order as the API's brief run dict (None for a LEFT JOIN miss)."""
    if run is None or run[0] is None:
        return None
    aware = raw_sql.aware
    return {"id": run[0], "status": run[1], "trigger": run[2], "skip_reason": run[3],
            "scheduled_for": _iso(aware(run[4]), zone), "started_at": _iso(aware(run[5]), zone),
            "finished_at": _iso(aware(run[6]), zone), "duration_ms": run[7], "heartbeat_at": _iso(aware(run[8]), zone)}


_DEFINITION_FIELDS = ("job_id", "name", "trigger_type", "cron", "interval_seconds", "timeout_minutes", "enabled",
                      "lock_scope", "wait_seconds")


def _status_rows(*, fresh_after) -> list:
    """Every definition as a plain row with its job-store `next_run_time` (`store_next`), its last run (`last`)
    and its live run (`live`: RUNNING with a fresh heartbeat), in one query however long the run history.

    The tables have no ORM relation, and compiling the equivalent ORM query costs more than running it. The last
    run is one backward probe of the (job_id, id) index per definition (a LATERAL join on PostgreSQL, whose planner
    otherwise hashes the whole run table; SQLite has no LATERAL and probes by MAX). Live runs come from the small
    partial index of RUNNING rows; a team-scoped job can have several, and the newest is kept.
    """


    qn = connection.ops.quote_name
    runs, run_id, job_id = qn(JobRun._meta.db_table), qn("id"), qn("job_id")
    if connection.vendor == "postgresql":
        last_join = (f"LEFT JOIN LATERAL (SELECT * FROM {runs} l WHERE l.{job_id} = d.{job_id} "
                     f"ORDER BY l.{run_id} DESC LIMIT 1) lr ON true")
    else:
        last_join = (f"LEFT JOIN {runs} lr ON lr.{run_id} = "
                     f"(SELECT MAX(l.{run_id}) FROM {runs} l WHERE l.{job_id} = d.{job_id})")
    run_columns = [f"{alias}.{qn(name)}" for alias in ("lr", "rr") for name in _RUN_BRIEF_FIELDS]
    sql = (f"SELECT {', '.join(f'd.{qn(name)}' for name in _DEFINITION_FIELDS)}, j.{qn('next_run_time')}, "
           f"{', '.join(run_columns)} "
           f"FROM {qn(JobDefinition._meta.db_table)} d "
           f"LEFT JOIN {qn(DjangoJob._meta.db_table)} j ON j.{qn('id')} = d.{job_id} "
           f"{last_join} "
           f"LEFT JOIN {runs} rr ON rr.{job_id} = d.{job_id} AND rr.{qn('status')} = %s "
           f"AND rr.{qn('heartbeat_at')} >= %s "
           f"ORDER BY d.{job_id}, rr.{run_id} DESC")
    with raw_sql.cursor() as cursor:
        cursor.execute(sql, [JobRun.Status.RUNNING, raw_sql.db_datetime(fresh_after)])
        rows = cursor.fetchall()
    width, brief = len(_DEFINITION_FIELDS), len(_RUN_BRIEF_FIELDS)
    out = []
    for row in rows:
        if out and out[-1].job_id == row[0]:
            continue  # an older live run of a team-scoped job
        item = SimpleNamespace(**dict(zip(_DEFINITION_FIELDS, row, strict=False)),
                               store_next=raw_sql.aware(row[width]),
                               last=row[width + 1:width + 1 + brief], live=row[width + 1 + brief:])
        item.enabled = bool(item.enabled)
        out.append(item)
    return out


def scheduler_status() -> dict:
    """`{running, jobs: [{id, name, next_run, ...}]}` plus the locks and schedulers, in three SQL queries however
    many jobs and runs (the API adds one for the token): live schedulers; definitions with their job-store entry,
    last and live runs; database leases.

    `next_run` comes from the job store while a scheduler runs and from the trigger otherwise. A job is `running`
    when a RUNNING run has a fresh heartbeat (`running_run`) or its lock key is held (`lock`).
    """


    zone = ZoneInfo(settings.TIME_ZONE)
    now = timezone.now()
    fresh_after = lease_ago()
    instances = scheduler_instances_alive()
    definitions = _status_rows(fresh_after=fresh_after)
    lock_list, redis_ok = locks.list_locks()
    job_locks: dict[str, LockState] = {}
    for state in lock_list:
        if state.job_id not in job_locks or state.key == state.job_id:
            job_locks[state.job_id] = state
    jobs = []
    for definition in definitions:
        next_run = None
        if definition.enabled and triggers.has_schedule(definition):
            if instances and definition.store_next is not None:
                next_run = definition.store_next
            else:
                try:
                    next_run = triggers.next_fire_time(triggers.trigger_build(definition), now=now)
                except ValueError:
                    next_run = None
        lock = job_locks.get(definition.job_id)
        live = _run_brief(definition.live, zone)
        jobs.append({
            "id": definition.job_id,
            "name": definition.name,
            "next_run": _iso(next_run, zone),
            "trigger": definition.trigger_type,
            "schedule": triggers.schedule_text(definition),
            "enabled": definition.enabled,
            "running": bool(live or lock),
            "lock": None if lock is None else {"key": lock.key, "holder": lock.holder.as_dict() if lock.holder
                                               else None, "ttl_seconds": None if lock.ttl_seconds is None
                                               else round(lock.ttl_seconds, 3), "backend": lock.backend},
            "running_run": live,
            "last_run": _run_brief(definition.last, zone),
            "timeout_minutes": definition.timeout_minutes,
            "lock_scope": definition.lock_scope,
            "wait_seconds": definition.wait_seconds,
        })
    return {
        "running": bool(instances),
        "redis": redis_ok,
        "schedulers": [{"host": i.host, "pid": i.pid, "started_at": _iso(i.started_at, zone),
                        "heartbeat_at": _iso(i.heartbeat_at, zone)} for i in instances],
        "jobs": jobs,
    }


def job_runs_visible(*, user):
    """Staff read every run; others the runs they triggered or that belong to their teams."""

    runs = JobRun.objects.select_related("user", "team")
    if user.is_staff:
        return runs
    return runs.filter(Q(user=user) | Q(team__in=user.teams.values("pk")))


def job_runs_list(*, user, job_id: str | None = None, status: str | None = None, trigger: str | None = None,
                  team=None):
    runs = job_runs_visible(user=user)
    for field, value in (("job_id", job_id), ("status", status), ("trigger", trigger), ("team", team)):
        if value is not None:
            runs = runs.filter(**{field: value})
    return runs.order_by("-id")


def job_runs_recent_per_job(*, limit: int = 50) -> dict[str, list[dict]]:
    """The last `limit` runs of every job, oldest first, in one query whose cost does not grow with the history.

    Each job reads `limit` entries of the (job_id, id) index: a LATERAL join on PostgreSQL; on SQLite, which has
    no LATERAL, one probe finds the job's `limit`-th newest id and a range scan of the index reads from there.
    """

    fields = ("id", "job_id", "status", "duration_ms", "trigger", "created_at")
    qn = connection.ops.quote_name
    runs, definitions, job_id, run_id = (qn(JobRun._meta.db_table), qn(JobDefinition._meta.db_table), qn("job_id"),
                                         qn("id"))
    columns = ", ".join(f"r.{qn(name)}" for name in fields)
    if connection.vendor == "postgresql":
        sql = (f"SELECT {columns} FROM (SELECT DISTINCT {job_id} FROM {definitions}) d "
               f"CROSS JOIN LATERAL (SELECT * FROM {runs} l WHERE l.{job_id} = d.{job_id} "
               f"ORDER BY l.{run_id} DESC LIMIT %s) r")
        params = [limit]
    else:
        sql = (f"SELECT {columns} FROM {definitions} d JOIN {runs} r ON r.{job_id} = d.{job_id} "
               f"AND r.{run_id} >= COALESCE((SELECT l.{run_id} FROM {runs} l WHERE l.{job_id} = d.{job_id} "
               f"ORDER BY l.{run_id} DESC LIMIT 1 OFFSET %s), 0)")
        params = [limit - 1]
    with raw_sql.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    out: dict[str, list[dict]] = {}
    for row in rows:
        run = dict(zip(fields, row, strict=True))
        run["created_at"] = raw_sql.aware(run["created_at"])
        out.setdefault(run["job_id"], []).append(run)
    for job_runs in out.values():
        job_runs.sort(key=lambda r: r["id"])
    return out


def scheduler_dashboard() -> dict:
    """Everything the admin's Scheduler dashboard shows."""

    status = scheduler_status()
    lock_dicts = lock_state_dicts()
    return {
        "status": status,
        "instances": list(SchedulerInstance.objects.order_by("-heartbeat_at")[:20]),
        "fresh_seconds": settings.SCHEDULER_STALE_SECONDS,
        "locks": lock_dicts,
        "stale_locks": [lock for lock in lock_dicts if lock.get("stale")],
        "recent_runs": job_runs_recent_per_job(limit=50),
    }


def job_definition_get(*, job_id: str) -> JobDefinition | None:
    return JobDefinition.objects.filter(job_id=job_id).first()


# --- Lock service and scheduler liveness, for the health check ------------------------------------------------------

def lock_service_ping(*, timeout: float = 1.0) -> bool:
    """PING the lock's Redis, answering within `timeout`: with Redis down, redis-py's default retries take
    seconds per call, longer than a probe or a scrape should wait. (The ping thread finishes on its own.)"""
    answer: dict[str, bool] = {}

    def ping() -> None:
        try:
            answer["ok"] = locks.redis_available()
        except Exception:  # noqa: BLE001 - any failure means "not answering"
            answer["ok"] = False

    thread = threading.Thread(target=ping, name="redis-ping", daemon=True)
    thread.start()
    thread.join(timeout)
    return answer.get("ok", False)


def scheduler_heartbeat_age() -> float | None:
    """Seconds since the newest heartbeat of a scheduler that has not stopped; None when none ever ran."""
    last = SchedulerInstance.objects.filter(stopped_at__isnull=True).order_by("-heartbeat_at").first()
    return None if last is None else round((timezone.now() - last.heartbeat_at).total_seconds(), 3)


# --- Run figures for /metrics ---------------------------------------------------------------------------------------
# Seconds. Run durations span sub-second to the longest timeout; lock waits are mostly ~0 or up to `wait` (600 s).
DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, math.inf)
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, math.inf)
MetricKey = tuple[str, tuple[str, ...]]  # (metric, label values)


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)


def run_metric_aggregates(*, created_from: datetime | None = None, created_before: datetime | None = None,
                          finished_only: bool = False) -> dict[MetricKey, float]:
    """Counters and histogram figures over JobRun rows, in ONE grouped query. Keys:

    ("runs", (job, status)), ("lock_acquisitions", (job, result)),
    ("run_duration", (job, status, le)) / ("run_duration_sum"|"_count", (job, status)),
    ("lock_held", (job, backend, le)) / sum / count, ("lock_wait", (job, le)) / sum / count.
    Histogram buckets are cumulative (each run counts in every bucket at or above its value).
    """
    qs = JobRun.objects.all()
    if created_from is not None:
        qs = qs.filter(created_at__gte=created_from)
    if created_before is not None:
        qs = qs.filter(created_at__lt=created_before)
    if finished_only:
        qs = qs.filter(status__in=JobRun.FINISHED)
    started = Q(started_at__isnull=False, duration_ms__isnull=False) & ~Q(status=JobRun.Status.SKIPPED)
    waited = Q(lock_wait_ms__isnull=False, started_at__isnull=False)
    aggregates = {"n": Count("id"), "d_sum": Sum("duration_ms", filter=started), "d_n": Count("id", filter=started),
                  "w_sum": Sum("lock_wait_ms", filter=waited), "w_n": Count("id", filter=waited)}
    for i, bound in enumerate(DURATION_BUCKETS[:-1]):
        aggregates[f"d{i}"] = Count("id", filter=started & Q(duration_ms__lte=bound * 1000))
    for i, bound in enumerate(WAIT_BUCKETS[:-1]):
        aggregates[f"w{i}"] = Count("id", filter=waited & Q(lock_wait_ms__lte=bound * 1000))
    rows = qs.order_by().values("job_id", "status", "skip_reason", "lock_backend").annotate(**aggregates)

    out: dict[MetricKey, float] = defaultdict(float)
    for row in rows:
        job, status, backend = row["job_id"], row["status"], row["lock_backend"] or ""
        out[("runs", (job, status))] += row["n"]
        result = _lock_result(status=status, skip_reason=row["skip_reason"], backend=backend)
        if result:
            out[("lock_acquisitions", (job, result))] += row["n"]
        if row["d_n"]:
            for i, bound in enumerate(DURATION_BUCKETS):
                count = row["d_n"] if math.isinf(bound) else row[f"d{i}"]
                out[("run_duration", (job, status, _le(bound)))] += count
                out[("lock_held", (job, backend, _le(bound)))] += count
            seconds = (row["d_sum"] or 0) / 1000
            out[("run_duration_sum", (job, status))] += seconds
            out[("run_duration_count", (job, status))] += row["d_n"]
            out[("lock_held_sum", (job, backend))] += seconds
            out[("lock_held_count", (job, backend))] += row["d_n"]
        if row["w_n"]:
            for i, bound in enumerate(WAIT_BUCKETS):
                out[("lock_wait", (job, _le(bound)))] += row["w_n"] if math.isinf(bound) else row[f"w{i}"]
            out[("lock_wait_sum", (job,))] += (row["w_sum"] or 0) / 1000
            out[("lock_wait_count", (job,))] += row["w_n"]
    return dict(out)


def _lock_result(*, status: str, skip_reason: str, backend: str) -> str | None:
    """Which lock outcome a run records: acquired (Redis), fallback (database lease), blocked, error."""
    if backend == "redis":
        return "acquired"
    if backend == "database":
        return "fallback"
    if skip_reason == "lock_held":
        return "blocked"
    if skip_reason == "lock_unavailable":
        return "error"
    return None
