"""The scheduler's status (API, CLI) and the admin dashboard, in a few queries however long the history."""

from __future__ import annotations

from datetime import datetime, timedelta
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
from scheduler_app.selectors.job_state import FAILURE, SKIPS, SUCCESS, job_state, pause_text
from scheduler_app.selectors.locks import lock_state_dicts
from scheduler_app.selectors.refusals import lease_ago
from scheduler_app.selectors.timeline import job_runs_timeline
from scheduler_app.selectors.timeout_advice import timeout_advice


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
                     "duration_ms", "heartbeat_at", "start_lateness_ms")


def _run_brief(run: tuple | None, zone) -> dict | None:
    """A run row in `_RUN_BRIEF_FIELDS` order as the API's brief run dict (None for a LEFT JOIN miss)."""
    if run is None or run[0] is None:
        return None
    aware = raw_sql.aware
    return {"id": run[0], "status": run[1], "trigger": run[2], "skip_reason": run[3],
            "scheduled_for": _iso(aware(run[4]), zone), "started_at": _iso(aware(run[5]), zone),
            "finished_at": _iso(aware(run[6]), zone), "duration_ms": run[7], "heartbeat_at": _iso(aware(run[8]), zone),
            "start_lateness_ms": run[9]}


_DEFINITION_FIELDS = ("job_id", "name", "trigger_type", "cron", "interval_seconds", "timeout_minutes", "enabled",
                      "lock_scope", "wait_seconds", "time_zone", "overlap_policy", "paused_at", "paused_by",
                      "pause_reason")
_HOLDER_RUN_FIELDS = ("host", "pid", "timeout_seconds")  # of a RUNNING run, after its brief fields


def _status_sql(*, since_24h) -> tuple[str, list]:
    """The one status query; see `_status_rows`."""
    qn = connection.ops.quote_name
    runs, run_id, job_id, status = qn(JobRun._meta.db_table), qn("id"), qn("job_id"), qn("status")
    params: list = []

    def statuses(values) -> str:
        params.extend(values)
        return ", ".join(["%s"] * len(values))

    def newest(alias: str, where: str) -> str:
        if connection.vendor == "postgresql":
            return (f"LEFT JOIN LATERAL (SELECT * FROM {runs} l WHERE l.{job_id} = d.{job_id}{where} "
                    f"ORDER BY l.{run_id} DESC LIMIT 1) {alias} ON true")
        return (f"LEFT JOIN {runs} {alias} ON {alias}.{run_id} = "
                f"(SELECT MAX(l.{run_id}) FROM {runs} l WHERE l.{job_id} = d.{job_id}{where})")

    # Parameters follow the SQL text: the counts' statuses, their window, then the joins in order.
    counts = (f"LEFT JOIN (SELECT {job_id}, SUM(CASE WHEN {status} IN ({statuses(FAILURE)}) THEN 1 "
              f"ELSE 0 END) AS failures, SUM(CASE WHEN {status} IN ({statuses(SKIPS)}) THEN 1 ELSE 0 END) "
              f"AS skips, SUM(CASE WHEN {status} = %s THEN 1 ELSE 0 END) AS queued "
              f"FROM {runs} WHERE {qn('created_at')} >= %s GROUP BY {job_id}) c ON c.{job_id} = d.{job_id}")
    # A QUEUED run is a trigger waiting for the lock (at most 600 s): always inside the 24 h window.
    params.extend([JobRun.Status.QUEUED, raw_sql.db_datetime(since_24h)])
    last_join = newest("lr", "")
    success_join = newest("ls", f" AND l.{status} IN ({statuses(SUCCESS)})")
    failure_join = newest("lf", f" AND l.{status} IN ({statuses(FAILURE)})")
    params.append(JobRun.Status.RUNNING)
    columns = [f"d.{qn(name)}" for name in _DEFINITION_FIELDS] + [f"j.{qn('next_run_time')}"]
    columns += [f"lr.{qn(name)}" for name in _RUN_BRIEF_FIELDS]
    columns += [f"rr.{qn(name)}" for name in (*_RUN_BRIEF_FIELDS, *_HOLDER_RUN_FIELDS)]
    columns += [f"ls.{run_id}", f"ls.{qn('finished_at')}", f"lf.{run_id}", f"lf.{status}", f"lf.{qn('finished_at')}",
                "c.failures", "c.skips", "c.queued"]
    sql = (f"SELECT {', '.join(columns)} "
           f"FROM {qn(JobDefinition._meta.db_table)} d "
           f"LEFT JOIN {qn(DjangoJob._meta.db_table)} j ON j.{qn('id')} = d.{job_id} "
           f"{counts} {last_join} {success_join} {failure_join} "
           f"LEFT JOIN {runs} rr ON rr.{job_id} = d.{job_id} AND rr.{status} = %s "
           f"ORDER BY d.{job_id}, rr.{run_id} DESC")
    return sql, params


def _status_rows(*, fresh_after, since_24h) -> list:
    """Every definition as a plain row with its job-store `next_run_time` (`store_next`), its last run (`last`),
    its live run (`live`: RUNNING with a fresh heartbeat), its newest RUNNING run whatever its heartbeat
    (`holder_run`, for the silent-holder state), its last success and failure, and its failures and skips since
    `since_24h`, in one query however long the run history.

    The tables have no ORM relation, and compiling the equivalent ORM query costs more than running it. The last
    run, success and failure are each one backward probe of an index per definition (a LATERAL join on PostgreSQL,
    whose planner otherwise hashes the whole run table; SQLite has no LATERAL and probes by MAX, which the
    (job_id, status) index answers with the id it carries). The counts range over the created_at index for the
    window only. RUNNING runs come from the small partial index of RUNNING rows; a team-scoped job can have several,
    and the newest is kept (the newest fresh one for `live`).
    """
    sql, params = _status_sql(since_24h=since_24h)
    with raw_sql.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    width, brief, holder = len(_DEFINITION_FIELDS), len(_RUN_BRIEF_FIELDS), len(_HOLDER_RUN_FIELDS)
    running_at = width + 1 + brief
    outcomes_at = running_at + brief + holder
    heartbeat_at = _RUN_BRIEF_FIELDS.index("heartbeat_at")
    out = []
    for row in rows:
        running = row[running_at:outcomes_at]
        fresh = running[0] is not None and running[heartbeat_at] is not None and (
            raw_sql.aware(running[heartbeat_at]) >= fresh_after)
        if out and out[-1].job_id == row[0]:  # an older RUNNING run of a team-scoped job
            if fresh and out[-1].live[0] is None:
                out[-1].live = running[:brief]
            continue
        success_id, success_at, failure_id, failure_status, failure_at, failures, skips, queued = row[outcomes_at:]
        item = SimpleNamespace(**dict(zip(_DEFINITION_FIELDS, row, strict=False)),
                               store_next=raw_sql.aware(row[width]), last=row[width + 1:running_at],
                               live=running[:brief] if fresh else (None,), holder_run=running,
                               last_success=None if success_id is None else {
                                   "id": success_id, "finished_at": raw_sql.aware(success_at)},
                               last_failure=None if failure_id is None else {
                                   "id": failure_id, "status": failure_status,
                                   "finished_at": raw_sql.aware(failure_at)},
                               failures_24h=int(failures or 0), skips_24h=int(skips or 0),
                               queued=int(queued or 0))
        item.enabled = bool(item.enabled)
        item.paused_at = raw_sql.aware(item.paused_at)
        out.append(item)
    return out


def _holder_run(row: tuple) -> dict | None:
    if row[0] is None:
        return None
    run = dict(zip((*_RUN_BRIEF_FIELDS, *_HOLDER_RUN_FIELDS), row, strict=True))
    for name in ("started_at", "heartbeat_at"):
        run[name] = raw_sql.aware(run[name])
    return run


def _lock_dict(lock: LockState | None, zone) -> dict | None:
    if lock is None:
        return None
    holder = lock.holder
    acquired = holder.acquired_at if holder else None
    return {"key": lock.key, "holder": holder.as_dict() if holder else None,
            "ttl_seconds": None if lock.ttl_seconds is None else round(lock.ttl_seconds, 3), "backend": lock.backend,
            # the holder's epoch float, readable (0 or missing: a value we did not write)
            "acquired_at": datetime.fromtimestamp(acquired, zone).isoformat() if acquired else None}


def _outcome(value: dict | None, zone) -> dict | None:
    return None if value is None else {**value, "finished_at": _iso(value["finished_at"], zone)}


def scheduler_status() -> dict:
    """`{running, jobs: [{id, name, next_run, ...}]}` plus the locks and schedulers, in four SQL queries however
    many jobs and runs (the API adds one for the token): live schedulers; definitions with their job-store entry,
    last, live, success and failure runs, 24 h counts and queued triggers; the timeout advice (the last 100
    successful durations per job); database leases.

    `next_run` comes from the job store while a scheduler runs and from the trigger otherwise; it is null while the
    schedule is paused (`paused`, with `paused_by`, `paused_at`, `pause_reason` and `pause_text`: "paused by X since
    T: reason"). A job is `running`
    when a RUNNING run has a fresh heartbeat (`running_run`) or its lock key is held (`lock`). `state` says what
    the console shows (job_state: idle, queued, running, silent, locked), with the holder run's heartbeat age.
    """
    zone = ZoneInfo(settings.TIME_ZONE)
    now = timezone.now()
    fresh_after = lease_ago()
    instances = scheduler_instances_alive()
    definitions = _status_rows(fresh_after=fresh_after, since_24h=now - timedelta(hours=24))
    lock_list, redis_ok = locks.list_locks()
    job_locks: dict[str, LockState] = {}
    for state in lock_list:
        if state.job_id not in job_locks or state.key == state.job_id:
            job_locks[state.job_id] = state
    advice = timeout_advice(timeouts={d.job_id: d.timeout_minutes for d in definitions})
    jobs = []
    for definition in definitions:
        next_run = None
        paused = definition.paused_at is not None
        if definition.enabled and not paused and triggers.has_schedule(definition):
            if instances and definition.store_next is not None:
                next_run = definition.store_next
            else:
                try:
                    next_run = triggers.next_fire_time(triggers.trigger_build(definition), now=now)
                except ValueError:
                    next_run = None
        lock = job_locks.get(definition.job_id)
        live = _run_brief(definition.live, zone)
        state = job_state(run=_holder_run(definition.holder_run), locked=lock is not None,
                          timeout_minutes=definition.timeout_minutes, now=now, queued=definition.queued)
        jobs.append({
            "id": definition.job_id,
            "name": definition.name,
            "next_run": _iso(next_run, zone),
            "trigger": definition.trigger_type,
            "schedule": triggers.schedule_text(definition),
            "schedule_words": triggers.schedule_words(definition),
            "time_zone": triggers.zone_name(definition),
            "cron": definition.cron,
            "enabled": definition.enabled,
            # A paused schedule fires nothing (next_run null); manual triggers still run.
            "paused": paused,
            "paused_by": definition.paused_by if paused else None,
            "paused_at": _iso(definition.paused_at, zone),
            "pause_reason": definition.pause_reason if paused else None,
            "pause_text": pause_text(paused_by=definition.paused_by, paused_at=definition.paused_at,
                                     reason=definition.pause_reason) or None,
            "running": bool(live or lock),
            "lock": _lock_dict(lock, zone),
            "running_run": live,
            "last_run": _run_brief(definition.last, zone),
            "timeout_minutes": definition.timeout_minutes,
            "lock_scope": definition.lock_scope,
            "wait_seconds": definition.wait_seconds,
            "overlap_policy": definition.overlap_policy,
            "state": state,
            "heartbeat_age_seconds": state.get("heartbeat_age_seconds"),
            "last_success": _outcome(definition.last_success, zone),
            "last_failure": _outcome(definition.last_failure, zone),
            "failures_24h": definition.failures_24h,
            "skips_24h": definition.skips_24h,
            "timeout_advice": advice[definition.job_id].as_dict(),
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
    """Everything the admin's Scheduler dashboard shows: the status, the schedulers, the locks, each definition's
    admin id (for links) and the 24 h timeline."""
    status = scheduler_status()
    lock_dicts = lock_state_dicts()
    return {
        "status": status,
        "instances": list(SchedulerInstance.objects.order_by("-heartbeat_at")[:20]),
        "fresh_seconds": settings.SCHEDULER_STALE_SECONDS,
        "locks": lock_dicts,
        "stale_locks": [lock for lock in lock_dicts if lock.get("stale")],
        "definition_ids": dict(JobDefinition.objects.values_list("job_id", "pk")),
        "timeline": job_runs_timeline(),
    }
