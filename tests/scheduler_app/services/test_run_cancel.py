"""Cancel run: a queued run ends at once and never starts; a running one stops at its next ctx.check(), in this
process at once and in another process through its heartbeat. Terminal is final. Every cancel is recorded."""

from __future__ import annotations

import threading

import pytest

from scheduler_app import locks
from scheduler_app.models import JobRun, OperatorAction
from scheduler_app.services import RunNotFound, job_run, job_run_cancel
from tests.conftest import manage
from tests.waiting import wait_for


def _status(run_id: int) -> str:
    return JobRun.objects.get(pk=run_id).status


@pytest.mark.django_db(transaction=True)
def test_a_running_run_in_this_process_stops_at_its_next_check(real_redis, admin_user, tmp_path):
    run = job_run(job_id="progress_job", trigger="api", params={"release_file": str(tmp_path / "never")},
                  background=True)
    assert run.status == JobRun.Status.RUNNING
    result = job_run_cancel(run_id=run.pk, user=admin_user, source="api")
    assert result.outcome == "requested" and result.accepted
    wait_for(lambda: _status(run.pk) == JobRun.Status.CANCELLED, timeout=30, message="the run to end CANCELLED")
    ended = JobRun.objects.get(pk=run.pk)
    assert ended.error == "Job cancelled: cancelled by admin" and ended.cancel_requested_by == "admin"
    assert locks.inspect("progress_job") is None  # it released its lock
    record = OperatorAction.objects.get()
    assert (record.username, record.source, record.action, record.run_id) == ("admin", "api", "cancel_run", run.pk)

    again = job_run_cancel(run_id=run.pk, user=admin_user, source="api")
    assert again.outcome == "ended" and not again.accepted and "already ended CANCELLED" in again.message
    assert _status(run.pk) == JobRun.Status.CANCELLED  # terminal is final


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_cli_cancels_a_run_held_by_another_process(real_redis, subprocess_env, tmp_path):
    """`runjob` holds the run in its own process; `runs cancel` (a third process) asks through the database, the
    holder's heartbeat sees it (every lease/3) and the job stops at its next ctx.check()."""
    env = {**subprocess_env, "LOCK_LEASE_SECONDS": "1.5"}
    holder = manage("runjob", "progress_job", "--param", f"release_file={tmp_path / 'never'}", env=env)
    try:
        run_id = wait_for(lambda: JobRun.objects.filter(job_id="progress_job", status="RUNNING")
                          .values_list("pk", flat=True).first(), timeout=60, message="the holder's run")
        cancel = manage("runs", "cancel", str(run_id), "--wait", "60", env=env)
        out, err = cancel.communicate(timeout=90)
        assert cancel.returncode == 0, err
        assert f"Run #{run_id} of progress_job was asked to stop" in out and f"Run #{run_id} ended CANCELLED." in out
        assert holder.wait(timeout=60) == 1  # runjob: CANCELLED exits 1
    finally:
        if holder.poll() is None:
            holder.kill()
    ended = JobRun.objects.get(pk=run_id)
    assert ended.status == JobRun.Status.CANCELLED and ended.error.startswith("Job cancelled: cancelled by ")
    assert OperatorAction.objects.get(run_id=run_id).source == "cli"


@pytest.mark.django_db(transaction=True)
def test_a_queued_run_is_cancelled_at_once_and_never_starts(real_redis, admin_user):
    holder = locks.acquire("quick_job", ttl_seconds=60)
    waited = {}
    waiter = threading.Thread(target=lambda: waited.setdefault(
        "run", job_run(job_id="quick_job", trigger="api", wait_seconds=30)))
    waiter.start()
    try:
        queued = wait_for(lambda: JobRun.objects.filter(job_id="quick_job", status="QUEUED").first(), timeout=30,
                          message="the waiting trigger's QUEUED run")
        result = job_run_cancel(run_id=queued.pk, user=admin_user, source="admin")
        assert result.outcome == "cancelled" and "it will not start" in result.message
    finally:
        holder.release()  # the waiter now gets the lock, finds its run CANCELLED, and lets the lock go
    waiter.join(timeout=60)
    assert not waiter.is_alive()
    run = JobRun.objects.get(pk=queued.pk)
    assert run.status == JobRun.Status.CANCELLED and run.started_at is None and run.fencing_token is None
    assert locks.inspect("quick_job") is None


@pytest.mark.django_db
def test_an_unknown_run_is_not_found(fake_redis):
    with pytest.raises(RunNotFound):
        job_run_cancel(run_id=987654, source="api")


@pytest.mark.django_db(transaction=True)
def test_progress_is_written_with_the_heartbeat_and_at_the_end(real_redis, fast_lease, tmp_path):
    release = tmp_path / "release"
    run = job_run(job_id="progress_job", trigger="api", params={"steps": 4, "release_file": str(release)},
                  background=True)
    expected = {"boards": {"done": 4, "total": 4}}
    wait_for(lambda: JobRun.objects.get(pk=run.pk).progress == expected, timeout=30,
             message="the heartbeat to write the run's progress")
    release.touch()
    wait_for(lambda: _status(run.pk) == JobRun.Status.SUCCEEDED, timeout=30, message="the run to end")
    assert JobRun.objects.get(pk=run.pk).progress == expected


@pytest.mark.django_db
def test_cancel_api(staff_api, member_api, fake_redis):
    queued = JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="api", status="QUEUED")
    assert member_api.post(f"/api/v1/scheduler/runs/{queued.pk}/cancel").status_code == 403
    response = staff_api.post(f"/api/v1/scheduler/runs/{queued.pk}/cancel")
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["run_id"], body["status"], body["outcome"]) == (queued.pk, "CANCELLED", "cancelled")
    assert response["X-Run-Status"] == "CANCELLED"
    again = staff_api.post(f"/api/v1/scheduler/runs/{queued.pk}/cancel/")
    assert again.status_code == 409 and "already ended CANCELLED" in again.json()["detail"]
    assert staff_api.post("/api/v1/scheduler/runs/987654/cancel").status_code == 404
