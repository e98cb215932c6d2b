"""The scheduler's status (API, CLI) and the admin dashboard, in a few queries however long the history."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_apscheduler.models import DjangoJob

from scheduler_app import locks, raw_sql
from scheduler_app.locks import LockState
from scheduler_app.models import JobDefinition, JobRun, SchedulerInstance
from scheduler_app.scheduler import triggers
from scheduler_app.selectors.locks import lock_state_dicts
from scheduler_app.selectors.refusals import lease_ago


def scheduler_instances_alive() -> list:
    """Scheduler processes whose heartbeat is fresh (under SCHEDULER_STALE_SECONDS old)."""



    fresh_after = timezone.now() - timedelta(seconds=settings.SCHEDULER_STALE_SECONDS)
    return list(SchedulerInstance.objects.filter(heartbeat_at__gte=fresh_after, stopped_at__isnull=True))


def scheduler_heartbeat_age() -> float | None:
    """Seconds since the newest heartbeat of a scheduler that has not stopped; None when none ever ran."""
    last = SchedulerInstance.objects.filter(stopped_at__isnull=True).order_by("-heartbeat_at").first()
    return None if last is None else round((timezone.now() - last.heartbeat_at).total_seconds(), 3)


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
