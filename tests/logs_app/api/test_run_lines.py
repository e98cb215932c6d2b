"""GET /api/v1/logs/?run_id=N returns every line of run N: the job's own, the runner's, and the lock's, including
the lines logged outside the job's thread (the renewal thread, an operator's force-release)."""

from __future__ import annotations

import pytest

from logs_app.services import log_entries_flush
from scheduler_app import services
from scheduler_app.models import JobRun
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _messages(handler) -> list[str]:
    return [row["message"] for row in list(handler._pending)]


def test_a_runs_lock_lines_come_back_for_its_run_id(admin_api, db_handler, real_redis, fast_lease):
    other = services.job_run(job_id="quick_job", trigger=JobRun.Trigger.CLI)  # another run's lines, not wanted
    run = services.job_run(job_id="hold_job", trigger=JobRun.Trigger.API, params={"seconds": 120}, background=True)
    assert run.status == JobRun.Status.RUNNING
    set_again = f"Lock for job: hold_job was gone (Redis restarted?); set again for run {run.pk}"

    # Redis loses the key (a restart): the renewal thread sets it again, and logs it from its own thread.
    real_redis.delete("job_lock:hold_job")
    wait_for(lambda: set_again in _messages(db_handler), timeout=30, message="the renewal thread's 'set again'")
    # An operator force-releases the lock: the line names the holder's run.
    assert services.lock_force_release(key="hold_job")
    # A deploy stops the run; it ends CANCELLED and releases its lock.
    assert services.job_runs_cancel_active(reason="shutdown") >= 1
    wait_for(lambda: JobRun.objects.get(pk=run.pk).is_finished, timeout=30, message="the run to end")
    wait_for(lambda: "Releasing lock for job: hold_job" in _messages(db_handler), timeout=10,
             message="the release line")
    log_entries_flush()

    response = admin_api.get("/api/v1/logs/", {"run_id": run.pk, "page_size": 100})
    assert response.status_code == 200
    lines = response.json()["results"]
    assert {line["run_id"] for line in lines} == {run.pk}
    assert {line["job_id"] for line in lines} == {"hold_job"}
    messages = [line["message"] for line in reversed(lines)]  # the API lists newest first
    expected = ["Acquiring lock for job: hold_job", "Lock acquired for job: hold_job", set_again,
                "Lock for job: hold_job force-released by an operator",
                f"Cancelling run {run.pk} of job: hold_job (shutdown)", "Releasing lock for job: hold_job"]
    assert [m for m in messages if m in expected] == expected  # each one, in order
    # Every line carries the trigger (no column: in extra), the renewal thread's too.
    by_message = {line["message"]: line for line in lines}
    assert by_message["Acquiring lock for job: hold_job"]["extra"]["trigger"] == "api"
    assert by_message[set_again]["extra"]["trigger"] == "api"

    other_lines = admin_api.get("/api/v1/logs/", {"run_id": other.pk}).json()["results"]
    assert other_lines and {line["run_id"] for line in other_lines} == {other.pk}
    assert "Lock acquired for job: quick_job" in {line["message"] for line in other_lines}
