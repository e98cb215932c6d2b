"""End to end against live `manage.py runscheduler` subprocesses and the real Redis: the seed guide's Tests 3, 7
and 8, several schedulers (one run per slot), clean shutdown, and surviving a database outage."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime

import pytest
from django.db import connection
from django_apscheduler.models import DjangoJob
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from scheduler_app.models import JobDefinition, JobRun, SchedulerInstance
from tests.scheduler_app.scheduler.conftest import fresh_instances, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.real_redis]


@pytest.fixture
def admin_api(django_user_model, subprocess_env):
    from scraping_app.models import Team

    user = django_user_model.objects.create_user("admin", password="admin", is_staff=True, is_superuser=True)
    team, _ = Team.objects.get_or_create(pk=1, defaults={"name": "Demo team"})
    team.members.add(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=user).key}")
    return client


def _jobs(api) -> dict:
    body = api.get("/api/v1/scheduler/status").json()
    return body, {job["id"]: job for job in body["jobs"]}


def test_guide_test7_status_of_live_scheduler_and_clean_stop(scheduler_process, admin_api, real_redis):
    proc = scheduler_process()
    wait_for(lambda: DjangoJob.objects.filter(id="scrape_jobs_task").exists(), timeout=10, message="job store")
    # A slot that is due right now (e.g. at :00) fires at start; let it finish ("no jobs stuck in running").
    wait_for(lambda: not JobRun.objects.filter(status__in=["QUEUED", "RUNNING"]).exists(), timeout=10,
             message="due runs to finish")
    body, jobs = _jobs(admin_api)
    assert body["running"] is True and body["schedulers"][0]["pid"] == proc.pid
    expected = {"scrape_jobs_task": "Job Scraping", "check_follow_ups_task": "Check Follow-ups",
                "cleanup_old_logs_task": "Log Cleanup", "run_job_automation_task": "Job Automation"}
    for job_id, name in expected.items():
        job = jobs[job_id]
        assert job["name"] == name and job["trigger"] == "cron" and job["running"] is False
        stored = DjangoJob.objects.get(id=job_id).next_run_time
        assert datetime.fromisoformat(job["next_run"]) == stored  # from the job store while it runs
    scrape_next = datetime.fromisoformat(jobs["scrape_jobs_task"]["next_run"])
    assert scrape_next.minute in (0, 30) and scrape_next.second == 0 and scrape_next.utcoffset() is not None
    assert jobs["check_follow_ups_task"]["next_run"].endswith("T09:00:00+00:00")
    # heartbeats keep coming
    beat = SchedulerInstance.objects.get(pid=proc.pid).heartbeat_at
    wait_for(lambda: SchedulerInstance.objects.get(pid=proc.pid).heartbeat_at > beat, timeout=3, message="beat")
    code, output = scheduler_process.stop(proc)
    assert code == 0, output
    assert SchedulerInstance.objects.get(pid=proc.pid).stopped_at is not None
    assert _jobs(admin_api)[0]["running"] is False


def test_guide_test3_restart_while_manual_run_holds_the_lock(scheduler_process, admin_api, real_redis):
    """Test 3 as the guide runs it: a manual scrape (GET /api/v1/jobs/scrape) holds the lock; the scheduled scrape
    due at start and the one POST scheduler/restart fires are SKIPPED (lock_held, with the holder), never run
    concurrently, and the scheduler's log shows the conflict."""
    from scraping_app.models import JobSource

    JobSource.objects.create(kind="sample", name="Slow sample", enabled=True,
                             params={"page_size": 120, "delay_seconds": 10})  # one page, 10 s
    JobDefinition.objects.filter(job_id="scrape_jobs_task").update(cron="* * * * *")
    manual_api = APIClient()
    manual_api.credentials(HTTP_AUTHORIZATION=admin_api._credentials["HTTP_AUTHORIZATION"])
    answer = {}

    def manual_scrape() -> None:
        try:
            answer["response"] = manual_api.get("/api/v1/jobs/scrape?keyword=python&location=remote&limit=25")
        finally:
            connection.close()  # this thread's own connection

    caller = threading.Thread(target=manual_scrape)
    caller.start()
    try:
        # the run, or the response if the scrape ended before it could be seen running
        manual = wait_for(lambda: JobRun.objects.filter(job_id="scrape_jobs_task", trigger="api",
                                                        status="RUNNING").first() or answer, timeout=10,
                          message="manual run")
        assert isinstance(manual, JobRun), answer["response"].content[:500]
        proc = scheduler_process()
        scheduled = JobRun.objects.filter(job_id="scrape_jobs_task", trigger="scheduled")
        settled = scheduled.exclude(status="QUEUED")
        before = wait_for(lambda: settled.count(), timeout=10, message="the due slot fired at start")
        response = admin_api.post("/api/v1/scheduler/restart")
        assert response.status_code == 202
        wait_for(lambda: settled.count() > before, timeout=5, message="a fire after the restart")
        wait_for(lambda: not scheduled.filter(status="QUEUED").exists(), timeout=5, message="fires settled")
        assert JobRun.objects.get(pk=manual.pk).status == "RUNNING"  # the manual scrape still holds the lock
        for run in scheduled:
            assert run.status == "SKIPPED" and run.skip_reason == "lock_held"
            assert run.blocked_by["holder"]["run_id"] == manual.pk
        assert real_redis.get("job_lock:scrape_jobs_task") is not None
        _, jobs = _jobs(admin_api)
        assert jobs["scrape_jobs_task"]["running"] is True
        assert jobs["scrape_jobs_task"]["lock"]["holder"]["run_id"] == manual.pk
    finally:
        caller.join(timeout=60)
    assert answer["response"].status_code == 200, answer["response"].content
    assert answer["response"].json()["run_id"] == manual.pk
    assert JobRun.objects.filter(job_id="scrape_jobs_task", status="SUCCEEDED").count() == 1  # no concurrent run
    code, output = scheduler_process.stop(proc)
    assert code == 0
    assert "Failed to acquire lock for job: scrape_jobs_task (already running)" in output  # logs show the conflict
    assert "Job execution blocked by existing lock" in output


@pytest.mark.django_db(transaction=True)
def test_guide_test8_force_job_leaves_next_run_unchanged(scheduler_process, admin_api, real_redis):
    # A yearly slot, so that no real slot passes during the test and moves next_run by itself.
    JobDefinition.objects.filter(job_id="scrape_jobs_task").update(cron="0 0 1 1 *")
    scheduler_process()
    wait_for(lambda: DjangoJob.objects.filter(id="scrape_jobs_task").exists(), timeout=10, message="job store")
    _, jobs = _jobs(admin_api)
    next_before = jobs["scrape_jobs_task"]["next_run"]
    response = admin_api.post("/api/v1/scheduler/job", {"job_id": "scrape_jobs_task", "team_id": 1},
                              format="json")
    assert response.status_code == 202, response.content
    run_id = response.json()["run_id"]
    run = wait_for(lambda: (r := JobRun.objects.get(pk=run_id)).is_finished and r, timeout=10, message="the run")
    assert run.status == "SUCCEEDED" and run.lock_backend == "redis" and run.team_id == 1
    _, jobs = _jobs(admin_api)
    assert jobs["scrape_jobs_task"]["next_run"] == next_before
    assert jobs["scrape_jobs_task"]["last_run"]["id"] == run_id
    assert not JobRun.objects.filter(job_id="scrape_jobs_task", trigger="scheduled").exists()


def test_two_schedulers_run_each_slot_once(scheduler_process, real_redis):
    """Scenarios 1 and 6: two scheduler processes share the job store; a 1 s job runs once per slot, and both
    processes fire.

    Only a run that started names the process that fired it (`pid`); a losing fire's SKIPPED row (duplicate_slot or
    lock_held) carries no pid of its own (lock_held's blocked_by names the winner). So "both fired" is judged by
    the SUCCEEDED rows' pids.
    """
    JobDefinition.objects.filter(job_id="quick_job").update(trigger_type="interval", interval_seconds=1)
    first = scheduler_process()
    second = scheduler_process()
    pids = {first.pid, second.pid}
    scheduled = JobRun.objects.filter(job_id="quick_job", trigger="scheduled")
    succeeded = scheduled.filter(status="SUCCEEDED")
    wait_for(lambda: pids <= set(succeeded.values_list("pid", flat=True)) and succeeded.count() >= 10, timeout=120,
             interval=0.2, message=f"runs fired by both schedulers {sorted(pids)} (and 10 slots run)")
    for proc in (first, second):
        code, output = scheduler_process.stop(proc)
        assert code == 0, output
    rows = list(scheduled.values_list("scheduled_for", "status", "skip_reason", "pid"))
    ran = Counter(slot for slot, status, _, _ in rows if status not in ("SKIPPED", "MISSED"))
    assert ran and max(ran.values()) == 1, [s for s, n in ran.items() if n > 1]  # each slot ran at most once
    assert all(status == "SUCCEEDED" for _, status, _, _ in rows if status not in ("SKIPPED", "MISSED")), rows
    fired = {pid for _, status, _, pid in rows if status == "SUCCEEDED"}
    assert fired == pids, (fired, pids)  # both schedulers fired, and nothing else did
    assert SchedulerInstance.objects.filter(pid__in=pids, stopped_at__isnull=False).count() == 2


def _database_outage(seconds: float) -> None:
    """The database is gone for `seconds`, then read-only for `seconds`.

    PostgreSQL: every other connection is dropped and new ones are refused (a restart, as clients see it), then
    new sessions are read-only (a failover that lands on a standby). SQLite, which has no server: the write lock
    is held, so reads go on and every other writer fails with "database is locked" after its busy timeout.
    """
    if connection.vendor == "postgresql":
        import psycopg

        params = connection.get_connection_params()
        name = connection.ops.quote_name(params["dbname"])

        def drop_others() -> int:
            return admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                 "WHERE datname = %s AND pid <> %s",
                                 [params["dbname"], connection.connection.info.backend_pid]).fetchone()[0]

        with psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false")
            try:
                assert drop_others() >= 1
                time.sleep(seconds)
            finally:
                admin.execute(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true")
            admin.execute(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
            try:
                time.sleep(seconds)
            finally:
                admin.execute(f"ALTER DATABASE {name} RESET default_transaction_read_only")
                drop_others()  # the failover ends: clients reconnect to a writable primary
        return
    import sqlite3

    holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        time.sleep(seconds)
        holder.execute("ROLLBACK")
    finally:
        holder.close()


def test_scheduler_survives_database_outage(scheduler_process, real_redis):
    """Scenario 9: the database goes away for a moment (restart and read-only failover on PostgreSQL, SQLite's
    write lock held past the busy timeout); the scheduler loop goes on, runs resume and the heartbeat beats again."""
    JobDefinition.objects.filter(job_id="quick_job").update(trigger_type="interval", interval_seconds=1)
    proc = scheduler_process(SQLITE_BUSY_TIMEOUT_SECONDS="0.2", SCHEDULER_JOBSTORE_RETRY_SECONDS="0.5")
    done = JobRun.objects.filter(job_id="quick_job", status="SUCCEEDED")
    wait_for(lambda: done.count() >= 2, timeout=10, message="runs before the outage")
    _database_outage(seconds=3)
    after = done.count()
    beat = SchedulerInstance.objects.get(pid=proc.pid).heartbeat_at
    wait_for(lambda: done.count() >= after + 3, timeout=10, message="runs after the outage")
    wait_for(lambda: SchedulerInstance.objects.get(pid=proc.pid).heartbeat_at > beat, timeout=5, message="beat")
    assert fresh_instances() == 1
    assert proc.poll() is None
    scheduled = JobRun.objects.filter(job_id="quick_job", trigger="scheduled").exclude(status__in=["SKIPPED", "MISSED"])
    slots = Counter(scheduled.values_list("scheduled_for", flat=True))
    assert max(slots.values()) == 1  # a slot fired again after the outage was refused, not run twice


def test_sigterm_cancels_running_jobs_releases_their_locks_and_exits(scheduler_process, real_redis):
    """A deploy stops the scheduler mid-run: no new fires, the running job ends CANCELLED at its next ctx.check(),
    its lock is released, and the process exits cleanly."""
    from scheduler_app import services

    services.job_definitions_sync()
    JobDefinition.objects.filter(job_id="patient_job").update(trigger_type="interval", interval_seconds=1, cron="")
    proc = scheduler_process()
    run = wait_for(lambda: JobRun.objects.filter(job_id="patient_job", status="RUNNING").first(), timeout=30,
                   message="a running patient_job")
    assert real_redis.exists("job_lock:patient_job")
    code, output = scheduler_process.stop(proc, timeout=30)
    assert code == 0, output
    run.refresh_from_db()
    assert run.status == "CANCELLED" and "shutdown" in run.error, (run.status, run.error)
    assert not real_redis.exists("job_lock:patient_job")
    assert not JobRun.objects.filter(job_id="patient_job", status="RUNNING").exists()
