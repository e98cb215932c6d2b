"""A thread pool executor that tells each fire which schedule slot it is for, and reports coalesced slots.

APScheduler 3 does not pass the scheduled run time to the job function; the per-(job, slot) guard needs it, so the
executor hands it over as the `scheduled_for` keyword. With coalesce=True APScheduler also drops every due slot
but the latest without a word (after downtime, say); the executor sees them and reports them, so they leave a row,
before the max-instances check, so that a fire skipped for max instances does not silence them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from apscheduler.executors.pool import ThreadPoolExecutor

from scheduler_app.db_work import thread_db_work
from scheduler_app.scheduler import triggers

# Counting dropped slots walks the trigger in the scheduler's loop: a 1 s job down for a day has 86,400 of them.
COALESCED_COUNT_LIMIT = 1000


class _SlotJob:
    """The job as the executor sees it, with `scheduled_for` added to its kwargs."""

    def __init__(self, job, slot):
        self._job = job
        self.kwargs = {**job.kwargs, "scheduled_for": slot}

    def __getattr__(self, name):
        return getattr(self._job, name)

    def __str__(self) -> str:
        return str(self._job)


class SlotThreadPoolExecutor(ThreadPoolExecutor):
    """Also counts the fires submitted and not yet ended, and which (job, slot) they are for: the job store claims
    no more than the pool can start soon, and a reload never fires again a slot that is queued or running here."""

    def __init__(self, max_workers: int = 10, *, on_coalesced: Callable[[str, list[datetime], datetime], None]
                 | None = None, **kwargs):
        super().__init__(max_workers, **kwargs)
        self.max_workers = max_workers
        self.on_coalesced = on_coalesced
        self._fires: dict[str, set] = {}  # job id -> slots submitted and not ended
        self._fires_mutex = threading.Lock()

    def capacity(self) -> int:
        """Fires this pool can take now: its workers, plus as many queued behind them."""
        with self._fires_mutex:
            busy = sum(len(slots) for slots in self._fires.values())
        return 2 * self.max_workers - busy

    def slots_in_flight(self, job_id: str) -> set:
        with self._fires_mutex:
            return set(self._fires.get(job_id, ()))

    def _fire_started(self, job_id: str, slot) -> None:
        with self._fires_mutex:
            self._fires.setdefault(job_id, set()).add(slot)

    def _fire_ended(self, job_id: str) -> None:
        # max_instances is 1: a job's fire that ends was its only one in this pool
        with self._fires_mutex:
            self._fires.pop(job_id, None)
        if self._scheduler is not None:
            self._scheduler.wakeup()  # room in the pool: claim more now, not at the next due time

    def submit_job(self, job, run_times):
        # Report the folded slots before APScheduler's max-instances check, which raises before `_do_submit_job`:
        # whatever happens to the fire for the latest slot (run, SKIPPED for max instances, a submit error),
        # APScheduler moves the job's next run time past every slot in `run_times`, so the folded ones are gone.
        self._report_coalesced(job, run_times)
        return super().submit_job(job, run_times)

    def _report_coalesced(self, job, run_times) -> None:
        # The job's next_run_time is still the earliest due slot here; APScheduler moves it on after submitting.
        if not run_times or self.on_coalesced is None or not job.coalesce or job.next_run_time is None:
            return
        dropped = triggers.slots_between(job.trigger, job.next_run_time, run_times[-1], limit=COALESCED_COUNT_LIMIT)
        if dropped:
            self.on_coalesced(job.id, dropped, run_times[-1])

    def _do_submit_job(self, job, run_times):
        if getattr(job.func, "wants_slot", False) and run_times:
            # coalesce=True: APScheduler hands one run time, the latest due slot.
            job = _SlotJob(job, run_times[-1])
        self._fire_started(job.id, run_times[-1] if run_times else None)
        try:
            return super()._do_submit_job(job, run_times)
        except BaseException:
            self._fire_ended(job.id)
            raise

    # The result listeners run in the pool thread after the job: close what they opened, so no idle connection
    # outlives a database restart or a test database.
    @thread_db_work()
    def _run_job_success(self, job_id, events):
        try:
            super()._run_job_success(job_id, events)
        finally:
            self._fire_ended(job_id)

    @thread_db_work()
    def _run_job_error(self, job_id, exc, traceback=None):
        try:
            super()._run_job_error(job_id, exc, traceback)
        finally:
            self._fire_ended(job_id)
