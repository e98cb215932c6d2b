"""Least disclosure: members see a holder's run id, start and TTL; its token, fence, host and pid are staff's.
A member sees their team's runs without the params and traceback of runs staff (or the schedule) started."""

from __future__ import annotations

import pytest

from scheduler_app.models import JobRun
from scheduler_app.selectors.refusals import Refusal

pytestmark = pytest.mark.django_db

HOLDER = {"token": "a" * 32, "run_id": 7, "host": "vm", "pid": 4242, "acquired_at": 1764580000.0}


def test_a_refusal_shows_members_only_the_holders_run_and_start():
    refusal = Refusal(kind=Refusal.LOCK_HELD, job_id="scrape_jobs_task", run_id=8, holder=HOLDER, ttl_seconds=26.0)
    assert refusal.as_dict(staff=True)["holder"] == HOLDER
    member = refusal.as_dict(staff=False)
    assert member["holder"] == {"run_id": 7, "acquired_at": 1764580000.0}
    assert member["ttl_seconds"] == 26.0


def _run(**fields) -> JobRun:
    return JobRun.objects.create(job_id="scrape_jobs_task", lock_key="scrape_jobs_task", trigger="api",
                                 status="FAILED", host="vm", pid=4242, fencing_token=99, params={"keyword": "x"},
                                 traceback="Traceback ...", blocked_by={"holder": HOLDER, "ttl_seconds": 3.0},
                                 **fields)


def test_a_member_sees_no_staff_only_fields_of_a_team_run(member_api, staff_api, users, team):
    by_staff = _run(user=users["staff"], team=team)
    by_member = _run(user=users["member"], team=team)
    scheduled = _run(team=team)
    seen = {run["id"]: run for run in member_api.get("/api/v1/scheduler/runs").json()["results"]}
    assert set(seen) == {by_staff.pk, by_member.pk, scheduled.pk}
    for run in seen.values():
        assert run["host"] is None and run["pid"] is None and run["fencing_token"] is None
        assert run["blocked_by"]["holder"] == {"run_id": 7, "acquired_at": 1764580000.0}
    assert seen[by_staff.pk]["params"] is None and seen[by_staff.pk]["traceback"] == ""
    assert seen[scheduled.pk]["params"] is None and seen[scheduled.pk]["traceback"] == ""
    assert seen[by_member.pk]["params"] == {"keyword": "x"} and seen[by_member.pk]["traceback"]
    detail = member_api.get(f"/api/v1/scheduler/runs/{by_staff.pk}").json()
    assert detail["params"] is None and detail["host"] is None
    staff_view = staff_api.get(f"/api/v1/scheduler/runs/{by_staff.pk}").json()
    assert staff_view["host"] == "vm" and staff_view["params"] == {"keyword": "x"}
    assert staff_view["blocked_by"]["holder"] == HOLDER
