"""Timeout advice: p95 of the last 100 successful runs, advised p95 x 1.5, warnings below p95 and over 10 x."""

from __future__ import annotations

import pytest

from scheduler_app.models import JobDefinition, JobRun
from scheduler_app.selectors import timeout_advice
from scheduler_app.services import job_definitions_sync

pytestmark = pytest.mark.django_db


def _runs(job_id: str, seconds: list[float], status: str = "SUCCEEDED") -> None:
    JobRun.objects.bulk_create([JobRun(job_id=job_id, lock_key=job_id, trigger="api", status=status,
                                       duration_ms=s * 1000) for s in seconds])


def test_p95_of_the_last_100_successful_runs_and_the_advised_timeout():
    _runs("quick_job", [1000.0] * 50)  # older than the last 100: not sampled
    _runs("quick_job", [float(i) for i in range(1, 101)])  # 1..100 s
    _runs("quick_job", [5000.0], status="FAILED")  # failures are not sampled
    advice = timeout_advice(timeouts={"quick_job": 2.0, "hold_job": 1.0})
    quick = advice["quick_job"]
    assert (quick.runs, quick.p95_seconds, quick.advised_minutes) == (100, 95.0, 2.38)  # 95 x 1.5 = 142.5 s
    assert quick.warning == ""
    assert advice["hold_job"].runs == 0 and advice["hold_job"].advised_minutes is None


def test_warnings_below_the_p95_and_far_above_it():
    _runs("quick_job", [120.0] * 20)
    below = timeout_advice(timeouts={"quick_job": 1.0})["quick_job"]
    assert "below the p95" in below.warning
    far = timeout_advice(timeouts={"quick_job": 30.0})["quick_job"]
    assert "over 10 x the p95" in far.warning


def test_the_api_and_the_admin_show_it(staff_api, admin_client, fake_redis):
    job_definitions_sync()
    _runs("quick_job", [10.0] * 10)
    JobDefinition.objects.filter(job_id="quick_job").update(timeout_minutes=0.1)
    body = staff_api.get("/api/v1/scheduler/jobs/quick_job").json()
    assert body["timeout_advice"] == {"runs": 10, "p95_seconds": 10.0, "advised_minutes": 0.25,
                                      "warning": body["timeout_advice"]["warning"]}
    assert "below the p95" in body["timeout_advice"]["warning"]
    pk = JobDefinition.objects.get(job_id="quick_job").pk
    html = admin_client.get(f"/admin/scheduler_app/jobdefinition/{pk}/change/").content.decode()
    assert "advised timeout (p95 x 1.5): 0.25 min" in html and "timeout-warning" in html
