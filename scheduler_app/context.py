"""The job context: what a running job sees of its run, and how it stops cooperatively.

Long jobs call `ctx.check()` between units of work and write through `ctx.atomic()`, which commits only while the
run is still its key's current holder. The fencing token is the run's database id; the check is made by the
database inside the writer's own transaction, just before COMMIT, and holds until COMMIT (see
`runs.run_fence_confirm`). A timeout, a lost lock or a cancellation flips the context under the same mutex that
guards the commit, so nothing a job does after that point is committed.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import transaction

from scheduler_app import tracing


class JobCancelled(Exception):
    """Raised inside a job once its run timed out or lost its lock."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"Job cancelled: {reason}")


class StaleFencingToken(JobCancelled):
    """A write of a run that is no longer its key's holder: rolled back."""

    def __init__(self, mine: int | None, current: int | None):
        self.mine = mine
        self.current = current
        shown = "none: no run holds the key" if current is None else current
        super().__init__(f"stale fencing token {mine} (current {shown})")
        self.reason = "lost_lock"


class JobContext:
    def __init__(self, *, run_id: int, job_id: str, lock_key: str, fencing_token: int | None,
                 fence_check: Callable[[], bool], current_fence: Callable[[], int | None] | None = None,
                 team=None, user=None, trigger: str = "direct", lease_expired: Callable[[], bool] | None = None):
        self.run_id = run_id
        self.job_id = job_id
        self.lock_key = lock_key
        self.fencing_token = fencing_token
        self.team = team
        self.user = user
        self.trigger = trigger
        self.warnings: list[str] = []
        self.partial = False
        self.cancel_reason: str | None = None
        self._fence_check = fence_check
        self._current_fence = current_fence
        self._lease_expired = lease_expired
        self._commit_mutex = threading.Lock()
        self._cancel_hooks: list[Callable[[], None]] = []
        self.progress_listener: Callable[[str, int, int | None], None] | None = None

    # -- cancellation ------------------------------------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self.cancel_reason is not None

    def cancel(self, reason: str) -> None:
        """Called by the watchdog (timeout, lost lock) or a shutdown; waits for an in-flight commit to finish, then
        blocks all later ones."""
        with self._commit_mutex:
            if self.cancel_reason is None:
                self.cancel_reason = reason
        for hook in self._cancel_hooks:
            hook()

    def on_cancel(self, hook: Callable[[], None]) -> None:
        self._cancel_hooks.append(hook)

    def check(self) -> None:
        if self.cancel_reason is None and self._lease_expired is not None and self._lease_expired():
            # Nobody confirmed our lock for a whole lease: stop now, even if the watchdog thread is stuck. Set
            # without the commit mutex, which the commit path already holds when it calls this.
            self.cancel_reason = "lost_lock"
        if self.cancel_reason is not None:
            raise JobCancelled(self.cancel_reason)

    def assert_fence_current(self) -> None:
        """Inside the transaction: raise StaleFencingToken unless this run is still its key's holder."""
        if not self._fence_check():
            current = self._current_fence() if self._current_fence is not None else None
            raise StaleFencingToken(self.fencing_token, current)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """transaction.atomic() that commits only if this run is still its key's current holder at COMMIT: the
        database confirms it inside this transaction (one statement) and a take-over cannot pass until COMMIT."""
        self.check()
        attributes = {"job.id": self.job_id, "job.run_id": self.run_id, "job.fencing_token": self.fencing_token}
        with tracing.span("ctx.atomic", attributes) as span:
            block = transaction.atomic()
            block.__enter__()
            try:
                yield
            except BaseException:
                span.set("db.transaction.outcome", "rolled_back")
                if not block.__exit__(*sys.exc_info()):
                    raise
                return
            with self._commit_mutex:
                try:
                    self.check()
                    self.assert_fence_current()
                except BaseException:
                    span.set("db.transaction.outcome", "refused")  # stale fencing token, or cancelled
                    block.__exit__(*sys.exc_info())
                    raise
                block.__exit__(None, None, None)
            span.set("db.transaction.outcome", "committed")

    # -- reporting ---------------------------------------------------------------------------------------------------
    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def mark_partial(self, message: str) -> None:
        self.partial = True
        self.warn(message)

    def progress(self, task: str, done: int, total: int | None = None) -> None:
        if self.progress_listener is not None:
            try:
                self.progress_listener(task, done, total)
            except Exception:  # noqa: BLE001 - a display must never break a job
                pass


_current: contextvars.ContextVar[JobContext | None] = contextvars.ContextVar("job_context", default=None)


def current_job_context() -> JobContext | None:
    """The running job's context, or None outside a job."""
    return _current.get()


@contextmanager
def job_context_active(ctx: JobContext) -> Iterator[JobContext]:
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
