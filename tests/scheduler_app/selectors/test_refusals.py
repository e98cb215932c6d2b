"""Refusal: why a trigger did not start, as every entry point reports it; run_refusal and its kinds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler_app.models import JobRun
from scheduler_app.selectors import Refusal, lease_ago, run_not_recorded_refusal, run_refusal

HOLDER = {"token": "t" * 32, "run_id": 26, "host": "vm", "pid": 2112, "acquired_at": 1.0}


def test_lock_held_refusal():
    refusal = Refusal(kind=Refusal.LOCK_HELD, job_id="quick_job", run_id=27, holder=HOLDER, ttl_seconds=26.4,
                      heartbeat_age_seconds=2.04, refused_by="lock")
    assert refusal.http_status == 409
    assert refusal.detail == "Job is already running"
    assert refusal.message == "Job is already running (held by vm:2112, run #26; lock TTL 26 s; heartbeat 2.0 s ago)"
    assert refusal.as_dict() == {"detail": "Job is already running", "job_id": "quick_job", "run_id": 27,
                                 "holder": HOLDER, "ttl_seconds": 26.4, "heartbeat_age_seconds": 2.04,
                                 "refused_by": "lock"}


def test_lock_held_by_an_unknown_holder_says_so():
    refusal = Refusal(kind=Refusal.LOCK_HELD, job_id="quick_job", run_id=3)
    assert refusal.message == "Job is already running (held by another holder)"
    assert refusal.as_dict()["holder"] is None


def test_lock_held_without_a_run_id_names_only_host_and_pid():
    refusal = Refusal(kind=Refusal.LOCK_HELD, job_id="quick_job", run_id=3, holder={**HOLDER, "run_id": None},
                      ttl_seconds=5)
    assert refusal.holder_text == "held by vm:2112; lock TTL 5 s"


@pytest.mark.parametrize("kind, detail", [(Refusal.LOCK_UNAVAILABLE, "Lock service unavailable"),
                                          (Refusal.NOT_RECORDED, "Run could not be recorded")])
def test_service_refusals_are_503_and_carry_the_error(kind, detail):
    refusal = Refusal(kind=kind, job_id="quick_job", run_id=None, error="connection refused")
    assert refusal.http_status == 503
    assert refusal.detail == detail
    assert refusal.message == f"{detail}: connection refused"
    assert refusal.as_dict() == {"detail": detail, "job_id": "quick_job", "run_id": None,
                                 "error": "connection refused"}


def test_run_not_recorded_refusal_names_the_error():
    refusal = run_not_recorded_refusal(job_id="quick_job", error=RuntimeError("database is locked"))
    assert refusal.kind == Refusal.NOT_RECORDED
    assert refusal.run_id is None
    assert refusal.http_status == 503
    assert refusal.message == "Run could not be recorded: database is locked"


def _run(**fields) -> JobRun:
    return JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="api", **fields)


@pytest.mark.parametrize("status", ["RUNNING", "SUCCEEDED", "FAILED", "QUEUED", "MISSED"])
def test_no_refusal_for_a_run_that_was_not_refused(db, status):
    assert run_refusal(run=_run(status=status)) is None


@pytest.mark.parametrize("reason", ["duplicate_slot", "coalesced", "misfire", "max_instances"])
def test_no_refusal_for_other_skips(db, reason):
    assert run_refusal(run=_run(status="SKIPPED", skip_reason=reason)) is None


def test_refusal_of_a_run_skipped_for_a_held_lock(db):
    run = _run(status="SKIPPED", skip_reason="lock_held", error="Job is already running",
               blocked_by={"holder": HOLDER, "ttl_seconds": 12.0, "heartbeat_age_seconds": 1.5,
                           "refused_by": "database"})
    refusal = run_refusal(run=run)
    assert refusal == Refusal(kind=Refusal.LOCK_HELD, job_id="quick_job", run_id=run.pk, holder=HOLDER,
                              ttl_seconds=12.0, heartbeat_age_seconds=1.5, refused_by="database",
                              error="Job is already running")
    assert refusal.http_status == 409


def test_refusal_of_a_held_lock_without_blocked_by(db):
    refusal = run_refusal(run=_run(status="SKIPPED", skip_reason="lock_held"))
    assert refusal.kind == Refusal.LOCK_HELD
    assert refusal.holder is None and refusal.refused_by is None


def test_refusal_of_a_run_skipped_for_an_unavailable_lock_service(db):
    run = _run(status="SKIPPED", skip_reason="lock_unavailable", error="Redis down")
    refusal = run_refusal(run=run)
    assert refusal.kind == Refusal.LOCK_UNAVAILABLE
    assert refusal.run_id == run.pk
    assert refusal.http_status == 503
    assert refusal.message == "Lock service unavailable: Redis down"


def test_lease_ago_is_one_lease_back(settings):
    settings.LOCK_LEASE_SECONDS = 30
    before = timezone.now()
    value = lease_ago()
    after = timezone.now()
    assert before - timedelta(seconds=30) <= value <= after - timedelta(seconds=30)
