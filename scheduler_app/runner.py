"""One run, start to end: record, lock, guard, run, timeout, finish, release.

`scheduler_app.services.job_run` is the one way in (scheduler, API, admin, runjob and a direct call of a decorated
function all use it); it calls `run_job` here. The steps, in order:

1. read the job's definition (scope, overlap policy, wait, timeout): an edit applies to the next run;
2. record the trigger (`runs.run_create`): every trigger leaves a row;
3. take the lock (`locks.acquire`: Redis, or the database lease while Redis is down);
4. pass the database guard (`runs.run_start`: RUNNING only while no live run of the key is RUNNING; a dead one is
   taken over). A waiting trigger that the guard refuses lets the lock go and tries again until its budget ends.
   A refused trigger follows its overlap policy (`scheduler_app.overlap`): skip, wait, queue one, or replace;
5. run the job with its context; the renewal thread renews the lease, writes the heartbeat and fires the timeout;
6. finish the row (a compare-and-set from RUNNING), then release the lock, so a woken waiter passes the guard.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
import time
import traceback as tb
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from scheduler_app import locks, registry, runs, tracing
from scheduler_app import overlap as overlaps
from scheduler_app.context import JobCancelled, JobContext, StaleFencingToken, job_context_active
from scheduler_app.db_work import thread_db_work
from scheduler_app.definitions import job_definitions_sync
from scheduler_app.locks import Lease, LockNotAcquired, LockServiceUnavailable
from scheduler_app.models import JobDefinition, JobRun
from scheduler_app.registry import JobSpec
from scheduler_app.run_progress import progress_note
from scheduler_app.scheduler import jitter

logger = logging.getLogger("scheduler_app")

# A waiter refused by the database guard (not by the key) looks again this often, or sooner on a release signal.
GUARD_POLL_SECONDS = 0.25

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class Policy:
    """What a run needs of its job's definition (read on every run: an edit applies to the next run)."""

    lock_scope: str
    wait_seconds: float
    timeout_minutes: float
    overlap_policy: str = JobDefinition.OverlapPolicy.SKIP


def policy_read(spec: JobSpec) -> Policy:
    # Plain values, no ORDER BY: this read is on every run's path.
    fields = ["lock_scope", "wait_seconds", "timeout_minutes", "overlap_policy"]
    rows = JobDefinition.objects.filter(job_id=spec.job_id)
    try:
        row = next(iter(rows.values_list(*fields)[:1]), None)
        if row is None:
            job_definitions_sync()
            row = rows.values_list(*fields).get()
    except DatabaseError as exc:
        raise runs.RunNotRecorded(spec.job_id, None, exc) from exc
    return Policy(*row)


def lock_key_for(*, job_id: str, scope: str, team) -> str:
    if scope == JobDefinition.LockScope.TEAM and team is not None:
        return f"{job_id}:team:{team.pk}"
    return job_id


class Execution:
    """One run between its start and its end. `finish` is idempotent and thread-safe: the job's own thread and
    the watchdog (timeout, lost lock) race to it, and the first one wins."""

    def __init__(self, *, spec: JobSpec, run: JobRun, lease: Lease, ctx: JobContext, timeout_minutes: float):
        self.spec = spec
        self.run = run
        self.lease = lease
        self.ctx = ctx
        self.timeout_minutes = timeout_minutes
        self._finish_mutex = threading.Lock()
        self.finished = False
        lease.on_deadline.append(lambda _lease: self._expire())
        lease.on_lost.append(lambda _lease: self._lose())

    def _expire(self) -> None:
        self.ctx.cancel("timeout")
        minutes = f"{self.timeout_minutes:g}"
        self._finish_from_watchdog(JobRun.Status.TIMED_OUT, error=f"Job exceeded timeout of {minutes} minutes",
                                   warning=f"Job exceeded timeout of {minutes} minutes")

    def _lose(self) -> None:
        self.ctx.cancel("lost_lock")
        self._finish_from_watchdog(JobRun.Status.LOST_LOCK, error=self._lost_logged())

    def _lost_logged(self) -> str:
        error = self._lost_error()
        logger.error("Lock lost for job: %s (run %s): %s", self.lease.key, self.run.pk, error,
                     extra=_log_extra(self.run))
        return error

    def _lost_error(self) -> str:
        try:
            current = runs.run_fence_current(lock_key=self.lease.key)
        except DatabaseError:
            current = "unknown (database unavailable)"
        return (f"Lock lost: {self.lease.lost_reason or 'another holder took it'} (fencing token "
                f"{self.run.fencing_token}; current fencing token: {'none' if current is None else current})")

    @thread_db_work()
    def _finish_from_watchdog(self, status: str, **details) -> None:
        self.finish(status, **details)

    def finish(self, status: str, *, error: str = "", traceback: str = "", result: Any = None,
               warning: str | None = None, skip_reason: str = "") -> bool:
        # Held for the whole finish: a second caller returns only once the first has recorded and released.
        with self._finish_mutex:
            if self.finished:
                return False
            self.finished = True
            _active.discard(self)
            self._finish(status, error=error, traceback=traceback, result=result, warning=warning,
                         skip_reason=skip_reason)
            return True

    def _finish(self, status: str, *, error: str, traceback: str, result: Any, warning: str | None,
                skip_reason: str = "") -> None:
        log_extra = _log_extra(self.run)
        if warning:
            logger.warning(warning, extra=log_extra)
        if status in (JobRun.Status.SUCCEEDED, JobRun.Status.PARTIAL, JobRun.Status.FAILED) and self.lease.lost:
            status, error = JobRun.Status.LOST_LOCK, error or self._lost_error()
        # The row is finished before the lock is released, so a woken waiter passes the database guard.
        recorded = self._record_finish(status, error=error, traceback=traceback, result=result,
                                       skip_reason=skip_reason)
        logger.info("Releasing lock for job: %s", self.lease.key, extra=log_extra)
        self.lease.release()
        _queued_hand_off(job_id=self.run.job_id, key=self.lease.key)
        if not recorded:
            logger.error("Run %s of job: %s had already ended %s; its late finish (%s) changes nothing",
                         self.run.pk, self.run.job_id, self.run.status, status, extra=log_extra)

    def _record_finish(self, status: str, **details) -> bool:
        for attempt in range(2):
            try:
                return runs.run_finish(self.run, status=status, warnings=list(self.ctx.warnings), **details)
            except DatabaseError:
                if attempt:
                    # The row stays RUNNING; with no heartbeat after the release it counts as dead within one
                    # lease. Not a late finish: report what the run did.
                    logger.exception("Could not record the end of run %s of job: %s (%s)", self.run.pk,
                                     self.run.job_id, status, extra=_log_extra(self.run))
                    self.run.status = status
                    return True
                close_old_connections()
        return False

    def body(self, kwargs: dict) -> None:
        """Run the job in this thread; the watchdog stops it at its deadline. Leaves the outcome on the run:
        `run.job_value` (the function's return value) and `run.job_exception` (what it raised, if anything)."""
        run = self.run
        with job_context_active(self.ctx):
            try:
                if self.spec.is_async:
                    value = asyncio.run(self._run_async(kwargs))
                else:
                    value = self.spec.func(**kwargs)
                self.ctx.check()
            except JobCancelled as exc:
                # Timed out or lost (the watchdog already finished the run), cancelled (a shutdown), or a write
                # refused by the fence check.
                if isinstance(exc, StaleFencingToken):
                    logger.error("Lock lost for job: %s (run %s): write refused, %s", self.lease.key, run.pk, exc,
                                 extra=_log_extra(run))
                replaced = overlaps.cancel_outcome(exc.reason)
                if replaced is not None:
                    self.finish(JobRun.Status.CANCELLED, skip_reason=replaced[0], error=replaced[1])
                elif exc.reason == "lost_lock" and not isinstance(exc, StaleFencingToken) and not self.finished:
                    # It stopped itself at ctx.check() (no confirmation for a lease): the watchdog may be stuck.
                    self.finish(JobRun.Status.LOST_LOCK, error=self._lost_logged())
                else:
                    self.finish(_CANCEL_STATUS.get(exc.reason, JobRun.Status.CANCELLED), error=str(exc))
                run.job_exception = exc
                return
            except BaseException as exc:  # noqa: BLE001 - the run row must record every failure
                logger.exception("Job %s failed", self.spec.job_id, extra=_log_extra(run))
                self.finish(JobRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}", traceback=tb.format_exc())
                run.job_exception = exc
                return
        self.finish(JobRun.Status.PARTIAL if self.ctx.partial else JobRun.Status.SUCCEEDED, result=value)
        run.job_value = value

    async def _run_async(self, kwargs: dict) -> Any:
        task = asyncio.ensure_future(self.spec.func(**kwargs))
        loop = asyncio.get_running_loop()
        self.ctx.on_cancel(lambda: loop.call_soon_threadsafe(task.cancel))
        try:
            return await task
        except asyncio.CancelledError:
            raise JobCancelled(self.ctx.cancel_reason or "cancelled") from None


_CANCEL_STATUS = {"timeout": JobRun.Status.TIMED_OUT, "lost_lock": JobRun.Status.LOST_LOCK}
_active: set[Execution] = set()  # this process's runs, for a shutdown to cancel


def run_cancel_in_process(run_id: int, *, by: str = "") -> bool:
    """Ask this process's run `run_id`, if it holds it, to stop at its next `ctx.check()` (it ends CANCELLED).
    The renewal thread calls it when the heartbeat finds an operator's cancel request; a cancel made in the
    holder's own process calls it at once."""
    for execution in list(_active):
        if execution.run.pk == run_id:
            if execution.ctx.cancelled:
                return True  # asked already (the heartbeat sees the request on every beat until the run ends)
            reason = overlaps.cancel_reason(by)
            logger.warning("Cancelling run %s of job: %s (%s)", run_id, execution.run.job_id, reason,
                           extra=_log_extra(execution.run))
            execution.ctx.cancel(reason)
            return True
    return False


runs.run_cancel_listener_set(lambda run_id, by: run_cancel_in_process(run_id, by=by))


def runs_cancel_active(*, reason: str = "shutdown") -> int:
    """Ask every run of this process to stop at its next `ctx.check()` (it ends CANCELLED, releasing its lock)."""
    active = list(_active)
    for execution in active:
        logger.warning("Cancelling run %s of job: %s (%s)", execution.run.pk, execution.run.job_id, reason,
                       extra=_log_extra(execution.run))
        execution.ctx.cancel(reason)
    return len(active)


def run_job(spec: JobSpec, *, trigger: str, user=None, team=None, params: dict | None = None,
            wait_seconds: float | None = None, scheduled_for: datetime | None = None, background: bool = False,
            progress: Progress | None = None, overlap: str | None = None) -> JobRun:
    """Record, lock and run one trigger. In the background the lock is still taken here (a refusal is known at
    once) and the body runs in a thread of its own; the returned run is then RUNNING (or QUEUED, queue_one)."""
    # The run's span (a no-op unless traces are on): ended here, or by the background thread when its body ends.
    trace = tracing.run_trace(job_id=spec.job_id, trigger=trigger)
    try:
        with trace.current():
            run = _run_job(spec, trace, trigger=trigger, user=user, team=team, params=params,
                           wait_seconds=wait_seconds, scheduled_for=scheduled_for, background=background,
                           progress=progress, overlap=overlap)
    except BaseException as exc:
        trace.fail(exc)
        raise
    if not trace.handed_off:
        trace.end(run.status, run.error)
    return run


@dataclass(frozen=True)
class _Start:
    """What running a started trigger needs besides its run and lease."""

    spec: JobSpec
    kwargs: dict
    key: str
    timeout_minutes: float
    team: Any = None
    user: Any = None
    trigger: str = ""
    progress: Progress | None = None


def _run_job(spec: JobSpec, trace: tracing.RunSpan, *, trigger: str, user=None, team=None, params: dict | None = None,
             wait_seconds: float | None = None, scheduled_for: datetime | None = None, background: bool = False,
             progress: Progress | None = None, overlap: str | None = None) -> JobRun:
    kwargs = spec.bind_params(params)
    if spec.accepts_team:
        kwargs["team"] = team
    policy = policy_read(spec)
    choice = overlaps.overlap_choose(definition_policy=policy.overlap_policy, definition_wait=policy.wait_seconds,
                                     overlap=overlap, wait_seconds=wait_seconds)
    key = lock_key_for(job_id=spec.job_id, scope=policy.lock_scope, team=team)
    run = runs.run_create(job_id=spec.job_id, lock_key=key, trigger=trigger, user=user, team=team, params=params,
                          scheduled_for=scheduled_for, timeout_seconds=policy.timeout_minutes * 60)
    run.job_value = run.job_exception = None
    trace.set("job.run_id", run.pk)
    if run.status == JobRun.Status.SKIPPED or not jitter.run_jitter_wait(run):  # a scheduled start's jitter
        return run
    background = background or overlaps.runs_detached(trigger=trigger, policy=choice.policy)
    start = _Start(spec=spec, kwargs=kwargs, key=key, timeout_minutes=policy.timeout_minutes, team=team, user=user,
                   trigger=trigger, progress=progress)
    ttl = policy.timeout_minutes * 60
    overlapping = choice.policy in (overlaps.Overlap.QUEUE_ONE, overlaps.Overlap.REPLACE)
    with tracing.span("lock.acquire", {"lock.key": key}) as lock_span:
        asked = time.monotonic()
        lease = _lease_take(run, key=key, ttl_seconds=ttl, wait=choice.wait_seconds, final=not overlapping)
        if lease is None and run.status == JobRun.Status.QUEUED and choice.policy == overlaps.Overlap.REPLACE:
            lease = _replace(run, key=key, ttl_seconds=ttl)
        _lock_span_record(lock_span, lease=lease, run=run, waited_ms=(time.monotonic() - asked) * 1000)
    if lease is None and run.status == JobRun.Status.QUEUED:  # refused, queue_one: it queues (or the queue is full)
        return _queue(start, trace, run, background=background)
    if lease is None:
        return run
    return _execute(start, trace, run, lease, background=background)


def _lease_expired(lease: Lease) -> bool:
    """For ctx.check(): past the lease's stop time with no confirmation. The lease is marked lost here, without
    its callbacks (they write to the database, which may be what hangs); the job's own unwinding records the end."""
    if lease.lost or lease.released or locks.renewer.paused or not lease.unconfirmed_too_long():
        return lease.lost
    lease.lost = True
    lease.lost_reason = lease.lost_unconfirmed_reason()
    return True


def _execute(start: _Start, trace: tracing.RunSpan, run: JobRun, lease: Lease, *, background: bool) -> JobRun:
    """Run a started trigger's body, here or in a thread of its own."""
    key = start.key
    trace.set("job.fencing_token", run.fencing_token)
    ctx = JobContext(run_id=run.pk, job_id=start.spec.job_id, lock_key=key, fencing_token=run.fencing_token,
                     fence_check=lambda: not lease.lost and not lease.released and runs.run_fence_confirm(
                         run_id=run.pk),
                     current_fence=lambda: runs.run_fence_current(lock_key=key),
                     team=start.team, user=start.user, trigger=start.trigger,
                     lease_expired=lambda: _lease_expired(lease))
    ctx.progress_listener = _progress_recorder(run.pk, start.progress)
    execution = Execution(spec=start.spec, run=run, lease=lease, ctx=ctx, timeout_minutes=start.timeout_minutes)
    _active.add(execution)
    if not background:
        with tracing.span("job.body"):
            execution.body(start.kwargs)
        return run
    started = copy.copy(run)  # the caller's view of the run as it started; the thread goes on updating its own
    _thread_start(trace, run, f"job-{start.spec.job_id}-{run.pk}", lambda: execution.body(start.kwargs))
    return started


def _thread_start(trace: tracing.RunSpan, run: JobRun, name: str, body: Callable[[], Any], *,
                  daemon: bool = True, body_span: bool = True) -> None:
    """`body` in a thread of its own, inside the run's span (and the caller's trace), which it ends."""
    carried = tracing.context_capture()

    @thread_db_work()
    def target() -> None:
        with tracing.context_attached(carried):
            try:
                with tracing.span("job.body") if body_span else nullcontext():
                    body()
            finally:
                trace.end(run.status, run.error)

    trace.hand_off()
    threading.Thread(target=target, name=name, daemon=daemon).start()


# --- overlap policies: replace, queue_one --------------------------------------------------------------------------

def _holder_id(run: JobRun) -> int | None:
    """The run that held the key when this trigger was refused."""
    return ((getattr(run, "refusal", None) or {}).get("holder") or {}).get("run_id")


def _replace(run: JobRun, *, key: str, ttl_seconds: float) -> Lease | None:
    """Ask the holder to stop (in this process at once, elsewhere through its heartbeat) and wait for its release,
    bounded by what is left of its timeout. The replaced run ends CANCELLED, skip_reason replaced."""
    holder = overlaps.holder_run(lock_key=key, run_id=_holder_id(run))
    if holder is not None and overlaps.replace_request(holder_run_id=holder.pk, by_run=run.pk):
        run_cancel_in_process(holder.pk, by=overlaps.replace_by(run.pk))
    overlaps.queued_replace(job_id=run.job_id, lock_key=key, by_run=run.pk)
    budget = overlaps.replace_budget(holder, timeout_seconds=ttl_seconds)
    return _lease_take(run, key=key, ttl_seconds=ttl_seconds, wait=budget, log=False)


def _queue(start: _Start, trace: tracing.RunSpan, run: JobRun, *, background: bool) -> JobRun:
    """queue_one: this trigger becomes the key's one queued run, or SKIPPED queue_full when one already waits."""
    refusal = getattr(run, "refusal", None)
    queued = overlaps.queue_claim(run, holder_run_id=_holder_id(run))
    if queued is not None:
        details, error = overlaps.queue_full_details(queued=queued, blocked_by=refusal)
        logger.warning("Run %s of job: %s not queued: %s", run.pk, run.job_id, error, extra=_log_extra(run))
        runs.run_skip(run, reason=JobRun.SkipReason.QUEUE_FULL, blocked_by=details, error=error)
        return run
    logger.info("Run %s of job: %s queued behind run %s", run.pk, run.job_id, _holder_id(run),
                extra=_log_extra(run))

    def wait_and_run() -> JobRun:
        lease = _queued_wait(run, key=start.key, ttl_seconds=start.timeout_minutes * 60)
        if lease is None:
            return _run_awaited(run)
        return _execute(start, trace, run, lease, background=False)

    if not background:
        return wait_and_run()
    queued_view = copy.copy(run)
    _thread_start(trace, run, f"job-{start.spec.job_id}-{run.pk}-queued", wait_and_run, body_span=False)
    return queued_view


def _queued_wait(run: JobRun, *, key: str, ttl_seconds: float) -> Lease | None:
    """Wait for the release signal and start the queued run, heartbeating its row (so others know this waiter is
    alive). None when the row left QUEUED meanwhile (another process started it, or it was cancelled) or the
    holder outlived any timeout (SKIPPED lock_held)."""
    beat = settings.LOCK_LEASE_SECONDS / 3
    give_up = time.monotonic() + ttl_seconds + 2 * settings.LOCK_LEASE_SECONDS
    while True:
        if not overlaps.queue_waiter_beat(run):
            run.refresh_from_db()
            return None
        remaining = give_up - time.monotonic()
        final = remaining <= beat
        lease = _lease_take(run, key=key, ttl_seconds=ttl_seconds, wait=min(beat, max(0.0, remaining)),
                            final=final, log=False)
        if lease is not None or run.status != JobRun.Status.QUEUED:
            return lease


def _run_awaited(run: JobRun) -> JobRun:
    """A queued run that another process started: wait for its end (its result is the caller's)."""
    deadline = time.monotonic() + (run.timeout_seconds or 0) + 2 * settings.LOCK_LEASE_SECONDS
    while run.status in (JobRun.Status.QUEUED, JobRun.Status.RUNNING) and time.monotonic() < deadline:
        locks.lock().wait_for_release(run.lock_key, GUARD_POLL_SECONDS)
        run.refresh_from_db()
    run.job_value = run.result
    return run


def _queued_hand_off(*, job_id: str, key: str) -> None:
    """A holder that ends starts the run queued on its key if that run's waiter is gone (a kill -9)."""
    try:
        orphan = overlaps.queued_orphan(job_id=job_id, lock_key=key)
        if orphan is not None:
            run_queued_start(orphan)
    except Exception:  # noqa: BLE001 - the holder's own finish is recorded; the reaper retries the hand-off
        logger.exception("Could not start the run queued on %s", key)


def run_queued_start(run: JobRun) -> bool:
    """Start a queued (queue_one) run whose waiter is gone, in a thread of this process that keeps the process
    alive until the run ends. False when the key is held (its holder hands the run on when it ends) or the run
    left QUEUED (someone else started it)."""
    spec = registry.get(run.job_id)
    policy = policy_read(spec)
    ttl = policy.timeout_minutes * 60
    lease = _lease_take(run, key=run.lock_key, ttl_seconds=ttl, wait=0, final=False, log=False)
    if lease is None:
        return False
    logger.info("Run %s of job: %s starts: its queued trigger's process is gone", run.pk, run.job_id,
                extra=_log_extra(run))
    kwargs = spec.bind_params(run.params)
    if spec.accepts_team:
        kwargs["team"] = run.team
    run.job_value = run.job_exception = None
    start = _Start(spec=spec, kwargs=kwargs, key=run.lock_key, timeout_minutes=policy.timeout_minutes,
                   team=run.team, user=run.user, trigger=run.trigger)
    trace = tracing.run_trace(job_id=spec.job_id, trigger=run.trigger)
    _thread_start(trace, run, f"job-{spec.job_id}-{run.pk}-adopted",
                  lambda: _execute(start, trace, run, lease, background=False), daemon=False, body_span=False)
    return True


def runs_queued_adopt() -> int:
    """The reaper's part: start every queued run whose waiter is gone and whose key nobody holds."""
    started = 0
    for run in overlaps.queued_orphans():
        try:
            started += run_queued_start(run)
        except Exception:  # noqa: BLE001 - one bad row (an unregistered job) must not stop the others
            logger.exception("Could not start queued run %s of job: %s", run.pk, run.job_id)
    return started


def _progress_recorder(run_id: int, listener: Progress | None) -> Progress:
    """ctx.progress() goes to the run's row (with the next heartbeat) and to the caller's display, if any."""
    def record(task: str, done: int, total: int | None) -> None:
        progress_note(run_id, task, done, total)
        if listener is not None:
            listener(task, done, total)
    return record


def _lease_take(run: JobRun, *, key: str, ttl_seconds: float, wait: float, final: bool = True,
                log: bool = True) -> Lease | None:
    """The lock and the database guard, waiting up to `wait` seconds whichever of the two refuses. None when the
    run did not start: it is then SKIPPED with what refused it, or, when not `final` (its overlap policy decides
    next), still QUEUED with the refusal in `run.refusal`."""
    if log:
        logger.info("Acquiring lock for job: %s", key, extra=_log_extra(run))
    give_up = time.monotonic() + max(0.0, wait)
    contended = False  # a live run of the key refused an earlier attempt of this trigger
    while True:
        try:
            lease = locks.acquire(key, ttl_seconds=ttl_seconds, wait_seconds=max(0.0, give_up - time.monotonic()),
                                  run_id=run.pk)
        except LockNotAcquired as refused:
            _refuse(run, key, _blocked_by_lock(refused), final=final)
            return None
        except LockServiceUnavailable as exc:
            runs.run_skip(run, reason=JobRun.SkipReason.LOCK_UNAVAILABLE, blocked_by=None, error=str(exc))
            return None
        except DatabaseError as exc:  # Redis down and the database lease unreachable too
            raise runs.RunNotRecorded(run.job_id, run.pk, exc, what="no lock service answers") from exc
        try:
            blocker = runs.run_start(run, lease, contended=contended)
        except runs.RunEndedBeforeStart:
            lease.release()  # cancelled while it waited: it never starts, and holds nothing
            logger.info("Run %s of job: %s was %s before it started", run.pk, run.job_id, run.status,
                        extra=_log_extra(run))
            return None
        except BaseException:
            # E.g. the database went away between lock and start: never keep a lock nobody will run under.
            lease.release()
            raise
        if blocker is None:
            lease.trigger = run.trigger
            logger.info("Lock acquired for job: %s", key, extra=_log_extra(run))
            return lease
        # The key was free but the database still has a live run of it (Redis restarted, or a fallback holder):
        # let the key go at once, so the live holder's renewal finds it free again.
        lease.release()
        contended = True
        remaining = give_up - time.monotonic()
        if remaining <= 0:
            _refuse(run, key, _blocked_by_run(blocker), final=final)
            return None
        locks.lock().wait_for_release(key, min(remaining, GUARD_POLL_SECONDS))


def _lock_span_record(span, *, lease: Lease | None, run: JobRun, waited_ms: float) -> None:
    span.set("lock.wait_ms", round(waited_ms, 3))  # the lock's wait and the database guard's, together
    if lease is not None:
        span.set("lock.result", "acquired")
        span.set("lock.backend", lease.backend_name)
    elif run.status == JobRun.Status.QUEUED:
        span.set("lock.result", "queued")  # refused, and its overlap policy (queue_one) queues it
    elif run.skip_reason == JobRun.SkipReason.LOCK_HELD:
        span.set("lock.result", "blocked")
        span.set("lock.refused_by", (run.blocked_by or {}).get("refused_by"))  # the lock, or the database guard
    else:
        span.set("lock.result", "unavailable")  # LOCK_FALLBACK=fail and Redis down


def _blocked_by_lock(refused: LockNotAcquired) -> dict:
    blocked = {**refused.as_dict(), "refused_by": "lock"}
    run_id = refused.holder.run_id if refused.holder else None
    if run_id:
        try:
            heartbeat = JobRun.objects.filter(pk=run_id).values_list("heartbeat_at", flat=True).first()
        except DatabaseError:
            heartbeat = None  # the refusal itself is recorded (or reported) by the caller
        blocked["heartbeat_age_seconds"] = _age(heartbeat)
    return blocked


def _blocked_by_run(blocker: JobRun) -> dict:
    holder = {"token": blocker.lock_token, "run_id": blocker.pk, "host": blocker.host, "pid": blocker.pid or 0,
              "acquired_at": blocker.started_at.timestamp() if blocker.started_at else 0}
    return {"holder": holder, "ttl_seconds": None, "refused_by": "database",
            "heartbeat_age_seconds": _age(blocker.heartbeat_at)}


def _age(moment: datetime | None) -> float | None:
    return None if moment is None else round((timezone.now() - moment).total_seconds(), 3)


def _refuse(run: JobRun, key: str, blocked_by: dict, *, final: bool = True) -> None:
    if not final:
        run.refusal = blocked_by
        return
    logger.warning("Failed to acquire lock for job: %s (already running)", key, extra=_log_extra(run))
    logger.error("Job execution blocked by existing lock", extra=_log_extra(run))
    runs.run_skip(run, reason=JobRun.SkipReason.LOCK_HELD, blocked_by=blocked_by, error="Job is already running")


def _log_extra(run: JobRun) -> dict:
    """Run context for lines logged outside the job's own context (before it starts, or by the watchdog)."""
    return {"job_id": run.job_id, "run_id": run.pk, "trigger": run.trigger, "team_id": run.team_id}
