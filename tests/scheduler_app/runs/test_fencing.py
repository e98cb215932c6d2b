"""Invariant 9 in one process, on both databases: the fence is the run's id and the database checks it inside the
writer's own transaction; a take-over cannot pass an open fenced transaction; a refused trigger changes nothing
a holder depends on; a waiting trigger waits out its whole budget whatever refused it."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import close_old_connections, connection
from django.utils import timezone

from scheduler_app import locks, runs, services
from scheduler_app.context import StaleFencingToken, current_job_context
from scheduler_app.job_wrapper import with_execution_lock
from scheduler_app.models import JobRun
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
S = JobRun.Status

# What the test's own writer did, in order (the judge beside the project's tables).
record: list[tuple] = []
checked = threading.Event()  # the writer passed its fence check and waits before COMMIT
resume = threading.Event()
at_gate = threading.Event()  # the writer waits before its transaction (while the test makes it look dead)
open_gate = threading.Event()


@with_execution_lock(timeout_minutes=1, job_id="fenced_writer", name="Fenced writer")
def fenced_writer(*, marker: str = "w", pause: bool = False) -> dict:
    ctx = current_job_context()
    record.append(("start", ctx.run_id, sorted(Group.objects.values_list("name", flat=True))))
    if pause:
        at_gate.set()
        assert open_gate.wait(30)
    with ctx.atomic():
        Group.objects.create(name=marker)
    record.append(("commit", ctx.run_id, marker))
    return {"fence": ctx.fencing_token}


@pytest.fixture
def paused_fence(monkeypatch):
    """The writer stops right after the database confirmed its fence, before COMMIT (a GC pause, a SIGSTOP)."""
    real = runs.run_fence_confirm

    def confirm_then_pause(*, run_id: int) -> bool:
        ok = real(run_id=run_id)
        checked.set()
        assert resume.wait(30)
        return ok

    for event in (checked, resume, at_gate, open_gate):
        event.clear()
    record.clear()
    monkeypatch.setattr(runs, "run_fence_confirm", confirm_then_pause)
    yield
    resume.set()
    open_gate.set()


def in_thread(**options) -> tuple[threading.Thread, dict]:
    box: dict = {}

    def target():
        try:
            box["run"] = services.job_run(**options)
        finally:
            close_old_connections()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, box


def make_dead(run: JobRun) -> None:
    """What a frozen holder looks like to others: heartbeat older than one lease, its key gone."""
    JobRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=60))
    locks.force_release(run.lock_key)


def test_the_fencing_token_is_drawn_by_the_database_at_start_and_grows_with_each_holder(lock_redis):
    """Drawn from the runs' id sequence when the run starts, not when it was triggered: a trigger created earlier
    that starts later still gets a greater token. Deleted history never lets a number come back."""
    early = runs.run_create(job_id="fenced_writer", lock_key="fenced_writer", trigger="api", timeout_seconds=60)
    first = services.job_run(job_id="fenced_writer", trigger="api", params={"marker": "one"})
    assert first.status == S.SUCCEEDED and first.result == {"fence": first.fencing_token}
    assert first.fencing_token > first.pk > early.pk
    with locks.execution_lock("fenced_writer", ttl_seconds=60, run_id=early.pk) as lease:
        assert runs.run_start(early, lease) is None
    assert early.fencing_token > first.fencing_token
    runs.run_finish(early, status=S.SUCCEEDED)
    JobRun.objects.all().delete()
    after = services.job_run(job_id="fenced_writer", trigger="api", params={"marker": "two"})
    assert after.fencing_token > early.fencing_token


def test_a_take_over_cannot_pass_an_open_fenced_transaction(real_redis, paused_fence):
    """The holder is frozen between its fence check and COMMIT and looks dead to everyone else. A new trigger
    must not start before that transaction ends; once it starts, the old run can no longer commit anything."""
    locks.renewer.paused = True  # the frozen holder does not renew or heartbeat
    thread, box = in_thread(job_id="fenced_writer", trigger="api", params={"marker": "old", "pause": True})
    assert at_gate.wait(15)
    old = JobRun.objects.get(job_id="fenced_writer", status=S.RUNNING)
    make_dead(old)
    open_gate.set()
    assert checked.wait(15)
    if connection.vendor == "postgresql":
        # The old row is locked FOR UPDATE by the open transaction: the take-over skips it and is refused.
        refused = services.job_run(job_id="fenced_writer", trigger="api", params={"marker": "new"})
        assert refused.status == S.SKIPPED and refused.blocked_by["refused_by"] == "database"
        assert refused.blocked_by["holder"]["run_id"] == old.pk
        newer_thread, newer_box = None, None
    else:
        # SQLite: the open transaction holds the database's write lock (nothing else can even record a run, or
        # mark the holder dead); the new trigger waits for it.
        newer_thread, newer_box = in_thread(job_id="fenced_writer", trigger="api", params={"marker": "new"})
        time.sleep(0.3)  # a chance to pass, which it must not take (a negative check: load can only weaken it)
        assert not JobRun.objects.filter(job_id="fenced_writer").exclude(pk=old.pk).exists()
    resume.set()
    thread.join(30)
    locks.renewer.paused = False
    assert box["run"].status == S.SUCCEEDED  # it was still the holder when it committed
    if newer_thread is None:
        newer = services.job_run(job_id="fenced_writer", trigger="api", params={"marker": "new"})
    else:
        newer_thread.join(30)
        newer = newer_box["run"]
    assert newer.status == S.SUCCEEDED
    start_new = next(r for r in record if r[0] == "start" and r[1] == newer.pk)
    assert "old" in start_new[2]  # the old write was committed before the newer run started, never after


def test_a_stale_holder_cannot_commit_after_a_take_over(lock_redis, fast_lease, caplog):
    """A holder frozen before its check (its lease lapsed) is taken over; when it resumes, its write is rolled back
    and the log names both fencing tokens."""
    locks.renewer.paused = True
    gate = threading.Event()
    release_gate = threading.Event()

    @with_execution_lock(timeout_minutes=1, job_id="gated_writer", name="Gated writer")
    def gated_writer(*, marker: str = "w") -> None:
        ctx = current_job_context()
        if marker == "old":
            gate.set()
            assert release_gate.wait(30)
        with ctx.atomic():
            Group.objects.create(name=marker)

    thread, box = in_thread(job_id="gated_writer", trigger="api", params={"marker": "old"})
    assert gate.wait(15)
    old = JobRun.objects.get(job_id="gated_writer", status=S.RUNNING)
    make_dead(old)
    newer = services.job_run(job_id="gated_writer", trigger="api", params={"marker": "new"})
    assert newer.status == S.SUCCEEDED
    release_gate.set()
    thread.join(30)
    locks.renewer.paused = False
    old.refresh_from_db()
    assert old.status == S.ABANDONED  # terminal: the late finish did not change it
    assert not Group.objects.filter(name="old").exists() and Group.objects.filter(name="new").exists()
    assert isinstance(box["run"].job_exception, StaleFencingToken)
    assert f"stale fencing token {old.fencing_token} (current none" in str(box["run"].job_exception)


def test_a_refused_trigger_changes_nothing_the_holder_depends_on(lock_redis):
    """Redis restarted empty under a live holder: a second trigger gets the key, the database guard refuses it, it
    lets the key go. The holder goes on and ends SUCCEEDED, with its write."""
    thread, box = in_thread(job_id="writer_job", trigger="api", params={"seconds": 3.0, "marker": "holder"})
    holder = wait_for(lambda: JobRun.objects.filter(job_id="writer_job", status=S.RUNNING).first(), timeout=30,
                      interval=0.02, message="a RUNNING writer_job")
    lock_redis.flushdb()
    refused = services.job_run(job_id="writer_job", trigger="api", params={"marker": "intruder"})
    assert refused.status == S.SKIPPED and refused.blocked_by["refused_by"] == "database"
    assert refused.blocked_by["holder"]["run_id"] == holder.pk
    assert refused.blocked_by["heartbeat_age_seconds"] is not None
    assert not lock_redis.exists("job_lock:writer_job")  # the refused trigger let the key go
    thread.join(30)
    assert box["run"].status == S.SUCCEEDED
    assert Group.objects.filter(name="holder").exists() and not Group.objects.filter(name="intruder").exists()


def test_a_waiting_trigger_waits_out_its_budget_whatever_refused_it(lock_redis):
    thread, box = in_thread(job_id="hold_job", trigger="api", params={"seconds": 1.5})
    wait_for(lambda: JobRun.objects.filter(job_id="hold_job", status=S.RUNNING).first(), timeout=30, interval=0.02,
             message="a RUNNING hold_job")
    lock_redis.flushdb()  # the key is free, but the database still has the live run
    started = time.monotonic()
    waiter = services.job_run(job_id="hold_job", trigger="cli", wait_seconds=15, params={"seconds": 0})
    thread.join(30)
    assert box["run"].status == S.SUCCEEDED
    assert waiter.status == S.SUCCEEDED, (waiter.status, waiter.blocked_by)
    assert time.monotonic() - started < 10  # it ran once the holder ended, not at the end of its budget


def test_a_waiting_trigger_refused_until_its_budget_ends_is_skipped_with_the_holder(lock_redis):
    thread, _ = in_thread(job_id="hold_job", trigger="api", params={"seconds": 4.0})
    holder = wait_for(lambda: JobRun.objects.filter(job_id="hold_job", status=S.RUNNING).first(), timeout=30,
                      interval=0.02, message="a RUNNING hold_job")
    lock_redis.flushdb()
    started = time.monotonic()
    waiter = services.job_run(job_id="hold_job", trigger="cli", wait_seconds=0.6)
    assert time.monotonic() - started >= 0.6
    assert waiter.status == S.SKIPPED and waiter.blocked_by["holder"]["run_id"] == holder.pk
    thread.join(30)


def test_run_finish_is_a_compare_and_set_from_running(db):
    for status in (S.ABANDONED, S.SUCCEEDED, S.SKIPPED, S.CANCELLED):
        run = JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="api", status=status)
        assert runs.run_finish(run, status=S.SUCCEEDED) is False
        run.refresh_from_db()
        assert run.status == status
