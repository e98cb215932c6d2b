"""scheduler_app.context: the job's view of its run (current_job_context), cooperative stops (ctx.check),
progress reports, and ctx.atomic(), which commits only while the run is still its key's holder."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from scheduler_app import registry, runner
from scheduler_app.context import (
    JobCancelled,
    JobContext,
    StaleFencingToken,
    current_job_context,
    job_context_active,
)
from scheduler_app.models import JobRun
from scheduler_app.registry import JobSpec

S = JobRun.Status


def make_ctx(*, holder: bool = True, current: int | None = None, **kwargs) -> JobContext:
    fields = dict(run_id=5, job_id="quick_job", lock_key="quick_job", fencing_token=11, fence_check=lambda: holder,
                  current_fence=lambda: current)
    fields.update(kwargs)
    return JobContext(**fields)


# -- current_job_context ---------------------------------------------------------------------------------------------

def test_outside_a_run_there_is_no_context():
    assert current_job_context() is None


def test_job_context_active_sets_and_restores_it():
    outer, inner = make_ctx(run_id=1), make_ctx(run_id=2)
    with job_context_active(outer) as active:
        assert active is outer and current_job_context() is outer
        with job_context_active(inner):
            assert current_job_context() is inner
        assert current_job_context() is outer
    assert current_job_context() is None


def test_the_context_is_restored_when_the_block_raises():
    with pytest.raises(RuntimeError), job_context_active(make_ctx()):
        raise RuntimeError("boom")
    assert current_job_context() is None


def _spec(func, monkeypatch, job_id: str) -> JobSpec:
    spec = JobSpec(job_id=job_id, func=func, name=job_id, timeout_minutes=1)
    monkeypatch.setitem(registry._registry, job_id, spec)
    return spec


@pytest.mark.django_db(transaction=True)
def test_inside_a_run_the_context_names_the_run(fake_redis, monkeypatch):
    seen = {}

    def job() -> None:
        seen["ctx"] = current_job_context()

    run = runner.run_job(_spec(job, monkeypatch, "ctx_probe_job"), trigger="cli")
    ctx = seen["ctx"]
    assert run.status == S.SUCCEEDED
    assert ctx is not None and ctx.run_id == run.pk and ctx.job_id == "ctx_probe_job"
    assert ctx.lock_key == "ctx_probe_job" and ctx.trigger == "cli"
    assert ctx.fencing_token == run.fencing_token and ctx.fencing_token is not None
    assert current_job_context() is None  # gone once the run ended


# -- ctx.check and cancel --------------------------------------------------------------------------------------------

def test_check_passes_until_the_run_is_cancelled():
    ctx = make_ctx()
    ctx.check()
    assert not ctx.cancelled and ctx.cancel_reason is None


@pytest.mark.parametrize("reason", ["lost_lock", "timeout", "shutdown"])
def test_check_raises_once_cancelled_lost_or_past_its_deadline(reason):
    ctx = make_ctx()
    ctx.cancel(reason)
    assert ctx.cancelled
    with pytest.raises(JobCancelled) as cancelled:
        ctx.check()
    assert cancelled.value.reason == reason and str(cancelled.value) == f"Job cancelled: {reason}"


def test_the_first_cancel_reason_is_kept_and_hooks_run_on_each_cancel():
    ctx = make_ctx()
    calls = []
    ctx.on_cancel(lambda: calls.append("hook"))
    ctx.cancel("timeout")
    ctx.cancel("shutdown")
    assert ctx.cancel_reason == "timeout"
    assert calls == ["hook", "hook"]


# -- ctx.progress, warnings ------------------------------------------------------------------------------------------

def test_progress_goes_to_the_listener():
    ctx = make_ctx()
    reports = []
    ctx.progress_listener = lambda task, done, total: reports.append((task, done, total))
    ctx.progress("boards", 1, 3)
    ctx.progress("postings", 10)
    assert reports == [("boards", 1, 3), ("postings", 10, None)]


def test_progress_without_a_listener_or_with_a_failing_one_never_breaks_the_job():
    ctx = make_ctx()
    ctx.progress("boards", 1, 3)

    def broken(task, done, total):
        raise RuntimeError("display gone")

    ctx.progress_listener = broken
    ctx.progress("boards", 2, 3)


def test_warn_and_mark_partial():
    ctx = make_ctx()
    ctx.warn("slow board")
    assert not ctx.partial
    ctx.mark_partial("board x failed")
    assert ctx.partial and ctx.warnings == ["slow board", "board x failed"]


# -- ctx.atomic ------------------------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_atomic_commits_while_the_run_holds_the_key():
    with make_ctx(holder=True).atomic():
        Group.objects.create(name="kept")
    assert Group.objects.filter(name="kept").exists()


@pytest.mark.django_db(transaction=True)
def test_atomic_rolls_back_a_write_of_a_run_that_no_longer_holds_the_key():
    checks = []
    ctx = make_ctx(holder=False, current=12, fence_check=lambda: checks.append("checked") or False)
    with pytest.raises(StaleFencingToken) as stale, ctx.atomic():
        Group.objects.create(name="stale")
        assert checks == []  # the fence is checked at COMMIT, after the block, not before it
    assert checks == ["checked"]
    assert not Group.objects.filter(name="stale").exists()
    assert stale.value.mine == 11 and stale.value.current == 12 and stale.value.reason == "lost_lock"
    assert str(stale.value) == "Job cancelled: stale fencing token 11 (current 12)"
    assert isinstance(stale.value, JobCancelled)


@pytest.mark.django_db(transaction=True)
def test_stale_token_message_when_no_run_holds_the_key():
    with pytest.raises(StaleFencingToken) as stale, make_ctx(holder=False, current=None).atomic():
        Group.objects.create(name="stale")
    assert "stale fencing token 11 (current none: no run holds the key)" in str(stale.value)
    assert not Group.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_atomic_refuses_to_start_once_cancelled():
    ctx = make_ctx()
    ctx.cancel("timeout")
    entered = []
    with pytest.raises(JobCancelled), ctx.atomic():
        entered.append(True)
    assert entered == []


@pytest.mark.django_db(transaction=True)
def test_a_cancel_during_the_block_rolls_the_write_back():
    ctx = make_ctx()
    with pytest.raises(JobCancelled), ctx.atomic():
        Group.objects.create(name="late")
        ctx.cancel("timeout")  # the watchdog fires while the job is writing
    assert not Group.objects.filter(name="late").exists()


@pytest.mark.django_db(transaction=True)
def test_an_error_in_the_block_rolls_back_and_propagates():
    with pytest.raises(ValueError, match="bad row"), make_ctx().atomic():
        Group.objects.create(name="half")
        raise ValueError("bad row")
    assert not Group.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_in_a_real_run_the_database_decides_the_fence(fake_redis, monkeypatch):
    """The run's own row is the fence: RUNNING, its write commits; once ended (a take-over), it is refused."""

    def job() -> None:
        ctx = current_job_context()
        with ctx.atomic():
            Group.objects.create(name="while-holder")
        JobRun.objects.filter(pk=ctx.run_id).update(status=S.ABANDONED)  # what a take-over does to the old row
        with ctx.atomic():
            Group.objects.create(name="after-take-over")

    run = runner.run_job(_spec(job, monkeypatch, "ctx_fence_job"), trigger="cli")
    assert isinstance(run.job_exception, StaleFencingToken)
    assert run.job_exception.mine == run.fencing_token and run.job_exception.current is None
    assert Group.objects.filter(name="while-holder").exists()
    assert not Group.objects.filter(name="after-take-over").exists()
    assert JobRun.objects.get(pk=run.pk).status == S.ABANDONED  # terminal is final
