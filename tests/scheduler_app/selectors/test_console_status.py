"""The console's facts in scheduler_status: last success and failure, 24 h counts, heartbeat age and the silent
holder, the lock's readable acquired_at; still a constant number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from scheduler_app import locks
from scheduler_app.models import JobDefinition, JobRun
from scheduler_app.selectors import job_state, scheduler_status  # job_state: the module


def _run(job_id: str, status: str, **fields) -> JobRun:
    now = timezone.now()
    fields.setdefault("finished_at", now)
    return JobRun.objects.create(job_id=job_id, lock_key=job_id, trigger="scheduled", status=status, **fields)


def _job(job_id: str) -> dict:
    return {job["id"]: job for job in scheduler_status()["jobs"]}[job_id]


@pytest.fixture
def console_db(db, fake_redis, settings):
    settings.LOCK_LEASE_SECONDS = 30.0
    return db


def test_a_later_skip_does_not_hide_the_failure(console_db):
    ok = _run("quick_job", "SUCCEEDED")
    failed = _run("quick_job", "LOST_LOCK")
    skipped = _run("quick_job", "SKIPPED", skip_reason="lock_held")
    job = _job("quick_job")
    assert job["last_run"]["id"] == skipped.pk  # the last trigger, as before
    assert job["last_success"]["id"] == ok.pk and parse_datetime(job["last_success"]["finished_at"]).utcoffset() \
        is not None
    assert job["last_failure"] == {"id": failed.pk, "status": "LOST_LOCK",
                                   "finished_at": job["last_failure"]["finished_at"]}
    assert job["failures_24h"] == 1 and job["skips_24h"] == 1


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "LOST_LOCK", "ABANDONED"])
def test_every_failure_status_counts(console_db, status):
    _run("hold_job", status)
    job = _job("hold_job")
    assert job["last_failure"]["status"] == status and job["failures_24h"] == 1 and job["last_success"] is None


def test_partial_is_a_success_and_cancelled_is_neither(console_db):
    partial = _run("quick_job", "PARTIAL")
    _run("quick_job", "CANCELLED")
    job = _job("quick_job")
    assert job["last_success"]["id"] == partial.pk and job["last_failure"] is None and job["failures_24h"] == 0


def test_counts_cover_the_last_24_hours_only(console_db):
    old = _run("quick_job", "FAILED")
    JobRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    _run("quick_job", "MISSED", skip_reason="misfire")
    _run("quick_job", "SKIPPED", skip_reason="lock_held")
    job = _job("quick_job")
    assert job["failures_24h"] == 0 and job["skips_24h"] == 2  # skips count refused and missed slots
    assert job["last_failure"]["id"] == old.pk  # the last failure, however old


def test_a_running_run_with_a_fresh_heartbeat_is_running_for_n_s_of_its_timeout(console_db):
    now = timezone.now()
    run = _run("hold_job", "RUNNING", finished_at=None, started_at=now - timedelta(seconds=12),
               heartbeat_at=now - timedelta(seconds=2), host="web-1", pid=99, timeout_seconds=60)
    job = _job("hold_job")
    state = job["state"]
    assert state["kind"] == "running" and state["run_id"] == run.pk and (state["host"], state["pid"]) == ("web-1", 99)
    assert 12 <= state["elapsed_seconds"] < 14 and state["timeout_seconds"] == 60
    assert 2 <= job["heartbeat_age_seconds"] < 4
    assert job_state.state_text(state).startswith("running for 12 s of 60 s")


def test_a_holder_whose_heartbeat_stopped_is_silent_then_considered_dead(console_db):
    now = timezone.now()
    _run("hold_job", "RUNNING", finished_at=None, started_at=now - timedelta(seconds=40),
         heartbeat_at=now - timedelta(seconds=16))  # past lease/2 (15 s), before the lease (30 s)
    job = _job("hold_job")
    assert job["state"]["kind"] == "silent" and job["running"] is True  # still fresh by the lease rule
    assert job_state.state_text(job["state"]) == "silent for 16 s, considered dead at 30 s"
    JobRun.objects.filter(job_id="hold_job").update(heartbeat_at=now - timedelta(seconds=45))
    job = _job("hold_job")
    assert job["state"]["kind"] == "silent" and job["running"] is False and job["running_run"] is None
    assert job_state.state_text(job["state"]) == "silent for 45 s, considered dead at 30 s"


def test_the_silent_rule_on_a_short_lease(console_db, settings):
    settings.LOCK_LEASE_SECONDS = 3.0
    assert job_state.silent_after_seconds() == 2.0  # lease/3 + 1 s beats lease/2 on short leases
    settings.LOCK_LEASE_SECONDS = 30.0
    assert job_state.silent_after_seconds() == 15.0


def test_a_lock_without_a_run_is_locked_and_acquired_at_is_readable(console_db):
    lease = locks.acquire("quick_job", ttl_seconds=60)
    try:
        job = _job("quick_job")
    finally:
        lease.release()
    assert job["state"] == {"kind": "locked"}
    acquired = parse_datetime(job["lock"]["acquired_at"])
    assert acquired.utcoffset() is not None and abs((timezone.now() - acquired).total_seconds()) < 5
    assert isinstance(job["lock"]["holder"]["acquired_at"], float)  # the holder's own field is unchanged


def test_queries_stay_constant_however_many_jobs_and_runs(console_db, django_assert_max_num_queries):
    def add(n: int, start: int) -> None:
        JobDefinition.objects.bulk_create([JobDefinition(job_id=f"extra_{i}", name=f"Extra {i}", cron="*/5 * * * *",
                                                         timeout_minutes=1) for i in range(start, start + n)])
        for i in range(start, start + n):
            for status in ("SUCCEEDED", "FAILED", "SKIPPED", "RUNNING"):
                _run(f"extra_{i}", status, heartbeat_at=timezone.now())

    add(2, 0)
    with django_assert_max_num_queries(4) as few:
        scheduler_status()
    add(40, 100)
    with django_assert_max_num_queries(4) as many:
        jobs = scheduler_status()["jobs"]
    assert len(few.captured_queries) == len(many.captured_queries)
    extra = [job for job in jobs if job["id"].startswith("extra_")]
    assert len(extra) == 42 and all(job["failures_24h"] == 1 and job["skips_24h"] == 1 for job in extra)
    assert all(job["state"]["kind"] == "running" for job in extra)


def test_queued_triggers_show_as_queued(console_db):
    _run("quick_job", "QUEUED")
    _run("quick_job", "QUEUED")
    job = next(j for j in scheduler_status()["jobs"] if j["id"] == "quick_job")
    assert job["state"] == {"kind": "queued", "queued": 2}
    _run("quick_job", "RUNNING", heartbeat_at=timezone.now())
    job = next(j for j in scheduler_status()["jobs"] if j["id"] == "quick_job")
    assert job["state"]["kind"] == "running" and job["state"]["queued"] == 2
    assert job_state.state_text(job["state"]).endswith("; 2 queued")
    assert job_state.state_text({"kind": "queued", "queued": 2}) == "queued: 2 waiting for the lock"


def test_run_and_lock_endpoints_give_the_holder_heartbeat_age(staff_api, fake_redis):
    beat = timezone.now() - timedelta(seconds=12)
    run = JobRun.objects.create(job_id="hold_job", lock_key="hold_job", trigger="api", status="RUNNING",
                                started_at=beat, heartbeat_at=beat)
    lease = locks.acquire("hold_job", ttl_seconds=60, run_id=run.pk)
    try:
        body = staff_api.get(f"/api/v1/scheduler/runs/{run.pk}").json()
        assert 12 <= body["heartbeat_age_seconds"] < 60 and body["progress"] is None
        [lock] = staff_api.get("/api/v1/scheduler/locks").json()["locks"]
        assert 12 <= lock["holder_heartbeat_age_seconds"] < 60
    finally:
        lease.release()
    JobRun.objects.filter(pk=run.pk).update(status="SUCCEEDED")
    assert staff_api.get(f"/api/v1/scheduler/runs/{run.pk}").json()["heartbeat_age_seconds"] is None


def test_the_last_runs_start_lateness_is_in_status_and_the_console(console_db):
    """Issue 14: lateness (start minus slot) is shown by status and the admin, not only by the metrics."""
    from scheduler_app.admin_display import outcomes_cell

    slot = timezone.now().replace(microsecond=0) - timedelta(minutes=1)
    _run("quick_job", "SUCCEEDED", scheduled_for=slot, started_at=slot + timedelta(seconds=2.5),
         start_lateness_ms=2500.0)
    job = _job("quick_job")
    assert job["last_run"]["start_lateness_ms"] == 2500.0
    assert "started 2.5 s after its slot" in outcomes_cell(job)
