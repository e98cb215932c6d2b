"""run_metric_aggregates: the /metrics figures, cumulative histogram buckets and lock outcomes."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler_app.models import JobRun
from scheduler_app.selectors import DURATION_BUCKETS, WAIT_BUCKETS, run_metric_aggregates


def _run(status="SUCCEEDED", job_id="quick_job", **fields) -> JobRun:
    if status not in ("SKIPPED", "QUEUED", "MISSED"):
        fields.setdefault("started_at", timezone.now())
    return JobRun.objects.create(job_id=job_id, lock_key=fields.pop("lock_key", job_id), trigger="api",
                                 status=status, **fields)


def _le(bound):
    return "+Inf" if math.isinf(bound) else repr(bound)


def test_empty_history_gives_nothing(db):
    assert run_metric_aggregates() == {}


def test_counts_runs_per_job_and_status(db):
    _run(duration_ms=10)
    _run(duration_ms=20)
    _run("FAILED", duration_ms=30)
    _run("SUCCEEDED", job_id="hold_job", duration_ms=5)
    out = run_metric_aggregates()
    assert out[("runs", ("quick_job", "SUCCEEDED"))] == 2
    assert out[("runs", ("quick_job", "FAILED"))] == 1
    assert out[("runs", ("hold_job", "SUCCEEDED"))] == 1


def test_duration_buckets_are_cumulative(db):
    for ms in (50, 700, 700, 45_000, 4_000_000):  # 0.05 s, 0.7 s twice, 45 s, over the largest finite bound
        _run(duration_ms=ms, lock_backend="redis")
    out = run_metric_aggregates()
    expected = {0.1: 1, 0.5: 1, 1.0: 3, 5.0: 3, 10.0: 3, 30.0: 3, 60.0: 4, 120.0: 4, 300.0: 4, 600.0: 4,
                1800.0: 4, math.inf: 5}
    assert set(expected) == set(DURATION_BUCKETS)
    for bound, count in expected.items():
        assert out[("run_duration", ("quick_job", "SUCCEEDED", _le(bound)))] == count, bound
        assert out[("lock_held", ("quick_job", "redis", _le(bound)))] == count, bound
    assert out[("run_duration_count", ("quick_job", "SUCCEEDED"))] == 5
    assert out[("run_duration_sum", ("quick_job", "SUCCEEDED"))] == pytest.approx((50 + 1400 + 45_000 + 4e6) / 1000)
    assert out[("lock_held_count", ("quick_job", "redis"))] == 5
    buckets = [out[("run_duration", ("quick_job", "SUCCEEDED", _le(b)))] for b in DURATION_BUCKETS]
    assert buckets == sorted(buckets)


def test_a_bucket_bound_is_inclusive(db):
    _run(duration_ms=100)  # exactly 0.1 s
    _run(lock_wait_ms=1, duration_ms=1)  # exactly 0.001 s
    out = run_metric_aggregates()
    assert out[("run_duration", ("quick_job", "SUCCEEDED", "0.1"))] == 2
    assert out[("lock_wait", ("quick_job", "0.001"))] == 1


def test_lock_wait_buckets(db):
    for ms in (0, 3, 2000, 400_000):
        _run(duration_ms=1, lock_wait_ms=ms)
    _run("SKIPPED", skip_reason="lock_held", lock_wait_ms=9)  # never started: no wait figure
    out = run_metric_aggregates()
    expected = {0.001: 1, 0.005: 2, 0.01: 2, 0.05: 2, 0.1: 2, 0.5: 2, 1.0: 2, 5.0: 3, 10.0: 3, 30.0: 3, 60.0: 3,
                300.0: 3, math.inf: 4}
    assert set(expected) == set(WAIT_BUCKETS)
    for bound, count in expected.items():
        assert out[("lock_wait", ("quick_job", _le(bound)))] == count, bound
    assert out[("lock_wait_count", ("quick_job",))] == 4
    assert out[("lock_wait_sum", ("quick_job",))] == pytest.approx(402.003)


def test_skipped_and_unstarted_runs_have_no_duration(db):
    _run("SKIPPED", skip_reason="lock_held", duration_ms=3, started_at=timezone.now())
    _run("QUEUED")
    _run("RUNNING")  # no duration yet
    out = run_metric_aggregates()
    assert not [key for key in out if key[0].startswith(("run_duration", "lock_held", "lock_wait"))]
    assert out[("runs", ("quick_job", "SKIPPED"))] == 1


def test_lock_results(db):
    _run(duration_ms=1, lock_backend="redis")
    _run(duration_ms=1, lock_backend="redis")
    _run(duration_ms=1, lock_backend="database")
    _run("SKIPPED", skip_reason="lock_held")
    _run("SKIPPED", skip_reason="lock_unavailable")
    _run("SKIPPED", skip_reason="duplicate_slot")
    _run("MISSED", skip_reason="coalesced")
    out = run_metric_aggregates()
    results = {key[1][1]: value for key, value in out.items() if key[0] == "lock_acquisitions"}
    assert results == {"acquired": 2, "fallback": 1, "blocked": 1, "error": 1}
    assert out[("lock_held_count", ("quick_job", "database"))] == 1


def test_created_range_and_finished_only(db):
    old = _run(duration_ms=1)
    JobRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    _run(duration_ms=1)
    _run("RUNNING")
    cut = timezone.now() - timedelta(days=1)
    assert run_metric_aggregates(created_from=cut)[("runs", ("quick_job", "SUCCEEDED"))] == 1
    before = run_metric_aggregates(created_before=cut)
    assert before[("runs", ("quick_job", "SUCCEEDED"))] == 1 and ("runs", ("quick_job", "RUNNING")) not in before
    assert ("runs", ("quick_job", "RUNNING")) in run_metric_aggregates()
    assert ("runs", ("quick_job", "RUNNING")) not in run_metric_aggregates(finished_only=True)
