"""The console's run history reads: the last 24 h per job for the timeline, and a job's own page (recent runs, the
next fire times)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from scheduler_app import raw_sql
from scheduler_app.models import JobDefinition, JobRun
from scheduler_app.scheduler import triggers
from scheduler_app.selectors.next_runs import definition_next_runs

TIMELINE_FIELDS = ("id", "job_id", "status", "trigger", "created_at", "scheduled_for", "started_at", "finished_at",
                   "duration_ms")
TIMELINE_PER_JOB = 500  # runs drawn per job row; a job that ran more in the window says so


def job_runs_timeline(*, hours: float = 24, per_job: int = TIMELINE_PER_JOB, job_id: str | None = None,
                      now: datetime | None = None) -> dict:
    """`{since, until, per_job, jobs: {job_id: {runs: [...oldest first], capped: bool}}}`: each job's newest
    `per_job` runs created in the last `hours`, in one query however long the history.

    Each job reads at most `per_job + 1` entries of the (job_id, id) index (the extra one tells that the row is
    capped): a LATERAL join on PostgreSQL; on SQLite one probe finds the job's (per_job + 1)-th newest id and a
    range scan reads from there.
    """
    until = now or timezone.now()
    since = until - timedelta(hours=hours)
    qn = connection.ops.quote_name
    runs, definitions, job, run_id = (qn(JobRun._meta.db_table), qn(JobDefinition._meta.db_table), qn("job_id"),
                                      qn("id"))
    columns = ", ".join(f"r.{qn(name)}" for name in TIMELINE_FIELDS)
    one_job = f" WHERE d.{job} = %s" if job_id else ""
    if connection.vendor == "postgresql":
        sql = (f"SELECT {columns} FROM (SELECT DISTINCT {job} FROM {definitions} d{one_job}) d "
               f"CROSS JOIN LATERAL (SELECT * FROM {runs} l WHERE l.{job} = d.{job} AND l.{qn('created_at')} >= %s "
               f"ORDER BY l.{run_id} DESC LIMIT %s) r")
        params = [*([job_id] if job_id else []), raw_sql.db_datetime(since), per_job + 1]
    else:
        sql = (f"SELECT {columns} FROM {definitions} d JOIN {runs} r ON r.{job} = d.{job} "
               f"AND r.{qn('created_at')} >= %s "
               f"AND r.{run_id} >= COALESCE((SELECT l.{run_id} FROM {runs} l WHERE l.{job} = d.{job} "
               f"ORDER BY l.{run_id} DESC LIMIT 1 OFFSET %s), 0){one_job}")
        params = [raw_sql.db_datetime(since), per_job, *([job_id] if job_id else [])]
    with raw_sql.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    jobs: dict[str, dict] = {}
    for row in rows:
        run = dict(zip(TIMELINE_FIELDS, row, strict=True))
        for name in ("created_at", "scheduled_for", "started_at", "finished_at"):
            run[name] = raw_sql.aware(run[name])
        jobs.setdefault(run["job_id"], {"runs": [], "capped": False})["runs"].append(run)
    for entry in jobs.values():
        entry["runs"].sort(key=lambda r: r["id"])
        if len(entry["runs"]) > per_job:
            entry["runs"] = entry["runs"][-per_job:]
            entry["capped"] = True
    return {"since": since, "until": until, "per_job": per_job, "jobs": jobs}


def job_next_fire_times(definition: JobDefinition, *, count: int = 5, now: datetime | None = None) -> list[datetime]:
    """The job's next `count` fire times from its trigger (none when disabled, unscheduled or unbuildable)."""
    if not definition.enabled or not triggers.has_schedule(definition):
        return []
    try:
        trigger = triggers.trigger_build(definition)
    except ValueError:
        return []
    return triggers.next_fire_times(trigger, now=now or timezone.now(), count=count)


def job_console(*, definition: JobDefinition, recent: int = 20) -> dict:
    """What a job's admin page shows beside its form: its last `recent` runs, the preview of its next ten fire
    times (with offsets and daylight-saving notes), its timeline of the last 24 h (three queries at most)."""
    now = timezone.now()
    return {
        "recent_runs": list(JobRun.objects.filter(job_id=definition.job_id).select_related("user", "team")
                            .order_by("-id")[:recent]),
        "next_runs": definition_next_runs(definition=definition, start=now, count=10),
        "timeline": job_runs_timeline(job_id=definition.job_id, now=now),
    }
