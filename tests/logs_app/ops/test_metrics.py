"""/metrics: Prometheus text derived from the database and Redis, so every process's runs count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from logs_app.models import LogEntry
from logs_app.services import log_entries_cleanup
from scheduler_app import locks
from scheduler_app.models import JobRun, SchedulerInstance
from scheduler_app.services import job_run, run_history_delete_before
from tests.conftest import manage

JOB = "cleanup_old_logs_task"


def scrape() -> dict[tuple[str, tuple], float]:
    response = Client().get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.django_db
def test_runs_acquisitions_and_histograms_in_this_process(fake_redis):
    before = scrape()
    assert job_run(job_id=JOB, trigger="cli").status == JobRun.Status.SUCCEEDED
    with locks.execution_lock(JOB, ttl_seconds=60):
        assert job_run(job_id=JOB, trigger="api").status == JobRun.Status.SKIPPED
    after = scrape()

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("jobsite_runs_total", job_id=JOB, status="SUCCEEDED") == 1
    assert delta("jobsite_runs_total", job_id=JOB, status="SKIPPED") == 1
    assert delta("jobsite_lock_acquisitions_total", job_id=JOB, result="acquired") == 1
    assert delta("jobsite_lock_acquisitions_total", job_id=JOB, result="blocked") == 1
    assert delta("jobsite_run_duration_seconds_count", job_id=JOB, status="SUCCEEDED") == 1
    assert delta("jobsite_run_duration_seconds_bucket", job_id=JOB, status="SUCCEEDED", le="+Inf") == 1
    assert delta("jobsite_lock_wait_seconds_count", job_id=JOB) == 1
    assert delta("jobsite_lock_held_seconds_count", job_id=JOB, backend="redis") == 1
    assert value(after, "jobsite_redis_up") == 1


@pytest.mark.django_db
def test_fallback_and_error_results(dead_redis, settings):
    settings.LOCK_REDIS_RETRY_SECONDS = 60.0  # one slow Redis attempt; the second run goes straight to "fail"
    assert job_run(job_id=JOB, trigger="cli").lock_backend == "database"
    settings.LOCK_FALLBACK = "fail"
    assert job_run(job_id=JOB, trigger="cli").skip_reason == JobRun.SkipReason.LOCK_UNAVAILABLE
    samples = scrape()
    assert value(samples, "jobsite_lock_acquisitions_total", job_id=JOB, result="fallback") == 1
    assert value(samples, "jobsite_lock_acquisitions_total", job_id=JOB, result="error") == 1
    assert value(samples, "jobsite_redis_up") == 0


@pytest.mark.django_db
def test_buckets_are_cumulative(fake_redis):
    now = timezone.now()
    for ms in (50, 700, 4000, 4000, 7_200_000):
        JobRun.objects.create(job_id="scrape_jobs_task", lock_key="scrape_jobs_task", trigger="api",
                              status="SUCCEEDED", started_at=now, finished_at=now, duration_ms=ms,
                              lock_wait_ms=2, lock_backend="redis")
    samples = scrape()
    bucket = "jobsite_run_duration_seconds_bucket"
    labels = dict(job_id="scrape_jobs_task", status="SUCCEEDED")
    assert [value(samples, bucket, le=le, **labels) for le in ("0.1", "1.0", "5.0", "1800.0", "+Inf")] == \
        [1, 2, 4, 4, 5]
    assert value(samples, "jobsite_run_duration_seconds_sum", **labels) == pytest.approx(7208.75)
    assert value(samples, "jobsite_lock_wait_seconds_bucket", job_id="scrape_jobs_task", le="0.001") == 0
    assert value(samples, "jobsite_lock_wait_seconds_bucket", job_id="scrape_jobs_task", le="0.005") == 5


@pytest.mark.django_db
def test_counters_do_not_go_down_when_retention_deletes_history(fake_redis, settings, db):
    settings.RUN_RETENTION_DAYS = 90
    runs = [JobRun.objects.create(job_id="check_follow_ups_task", lock_key="check_follow_ups_task",
                                  trigger="scheduled", status="FAILED") for _ in range(4)]
    JobRun.objects.filter(pk__in=[r.pk for r in runs]).update(created_at=timezone.now() - timedelta(days=100))
    before = value(scrape(), "jobsite_runs_total", job_id="check_follow_ups_task", status="FAILED")
    assert before == 4

    assert log_entries_cleanup(run_history_delete=run_history_delete_before)["runs_deleted"] == 4
    # retiring twice counts nothing twice
    assert log_entries_cleanup(run_history_delete=run_history_delete_before)["runs_deleted"] == 0
    assert not JobRun.objects.filter(job_id="check_follow_ups_task").exists()
    JobRun.objects.create(job_id="check_follow_ups_task", lock_key="check_follow_ups_task", trigger="api",
                          status="FAILED")
    assert value(scrape(), "jobsite_runs_total", job_id="check_follow_ups_task", status="FAILED") == 5


@pytest.mark.django_db
def test_stuck_locks_and_scheduler_instances(fake_redis):
    now = timezone.now()
    SchedulerInstance.objects.create(host="a", pid=1, started_at=now, heartbeat_at=now)
    SchedulerInstance.objects.create(host="b", pid=2, started_at=now, heartbeat_at=now - timedelta(minutes=5))
    fake_redis.set("job_lock:scrape_jobs_task", "hand-set, no TTL")  # stale by definition: no TTL
    samples = scrape()
    assert value(samples, "jobsite_scheduler_instances_alive") == 1
    assert value(samples, "jobsite_stuck_locks") == 1
    assert value(samples, "jobsite_locks_held") == 1


@pytest.mark.django_db
def test_metrics_token(settings, fake_redis):
    settings.METRICS_BEARER_TOKEN = "s3cret"
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


@pytest.mark.slow
def test_runs_in_another_process_are_counted_here(real_redis, subprocess_env):
    """`manage.py runjob` in a subprocess records its run (and its log lines, with their context); the scrape in
    this process counts it."""
    before = value(scrape(), "jobsite_runs_total", job_id=JOB, status="SUCCEEDED")
    proc = manage("runjob", JOB, env=subprocess_env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    samples = scrape()
    assert value(samples, "jobsite_runs_total", job_id=JOB, status="SUCCEEDED") == before + 1
    assert value(samples, "jobsite_lock_acquisitions_total", job_id=JOB, result="acquired") >= 1
    run = JobRun.objects.get(job_id=JOB, trigger="cli")
    assert run.pid != __import__("os").getpid()
    # The subprocess's background log writer flushed at exit, stamping its run's context.
    assert LogEntry.objects.filter(run_id=run.pk, job_id=JOB, message__startswith="Deleted").exists()
