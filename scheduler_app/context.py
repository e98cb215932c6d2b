"""The job context: what a running job sees of its run, and how it stops cooperatively.

Long jobs call `ctx.check()` between units of work and write through `ctx.atomic()`, which commits only while the
run still holds its lock and fence. A timeout or a lost lock flips the context under the same mutex that guards the
commit, so nothing a job does after that point is committed.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import transaction


class JobCancelled(Exception):
    """Raised inside a job once its run timed out or lost its lock."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"Job cancelled: {reason}")


class StaleFencingToken(JobCancelled):
    def __init__(self, mine: int | None, current: int | None):
        super().__init__(f"stale fencing token {mine} (current {current})")


class JobContext:
    def __init__(self, *, run_id: int, job_id: str, lock_key: str, fencing_token: int | None,
                 fence_check: Callable[[], bool], team=None, user=None, trigger: str = "direct"):
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
        self._commit_mutex = threading.Lock()
        self._cancel_hooks: list[Callable[[], None]] = []
        self.progress_listener: Callable[[str, int, int | None], None] | None = None

    # -- cancellation ------------------------------------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self.cancel_reason is not None

    def cancel(self, reason: str) -> None:
        """Called by the watchdog; waits for an in-flight commit to finish, then blocks all later ones."""
        with self._commit_mutex:
            if self.cancel_reason is None:
                self.cancel_reason = reason
        for hook in self._cancel_hooks:
            hook()

    def on_cancel(self, hook: Callable[[], None]) -> None:
        self._cancel_hooks.append(hook)

    def check(self) -> None:
        if self.cancel_reason is not None:
            raise JobCancelled(self.cancel_reason)

    def assert_fence_current(self) -> None:
        if not self._fence_check():
            raise StaleFencingToken(self.fencing_token, None)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """transaction.atomic() that commits only if this run is still the lock's current holder."""
        self.check()
        block = transaction.atomic()
        block.__enter__()
        try:
            yield
        except BaseException:
            if not block.__exit__(*sys.exc_info()):
                raise
            return
        with self._commit_mutex:
            try:
                self.check()
                self.assert_fence_current()
            except BaseException:
                block.__exit__(*sys.exc_info())
                raise
            block.__exit__(None, None, None)

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
