"""A thread pool executor that tells each fire which schedule slot it is for, and reports coalesced slots.

APScheduler 3 does not pass the scheduled run time to the job function; the per-(job, slot) guard needs it, so the
executor hands it over as the `scheduled_for` keyword. With coalesce=True APScheduler also drops every due slot
but the latest without a word (after downtime, say); the executor sees them and reports them, so they leave a row,
before the max-instances check, so that a fire skipped for max instances does not silence them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.executors.base import MaxInstancesReachedError, run_job
from apscheduler.executors.pool import ThreadPoolExecutor

from scheduler_app.db_work import thread_db_work
from scheduler_app.scheduler import catch_up, jitter
from scheduler_app.scheduler.catch_up import JobPolicy

# Counting dropped slots walks the trigger in the scheduler's loop: a 1 s job down for a day has 86,400 of them.
COALESCED_COUNT_LIMIT = catch_up.CATCH_UP_RUNS_MAX


class _SlotJob:
    """The job as the executor sees it, with `scheduled_for` added to its kwargs. `grace`: False for a slot the
    catch-up window chose, which fires however late it is."""

    def __init__(self, job, slot, *, grace: bool = True):
        self._job = job
        self.kwargs = {**job.kwargs, "scheduled_for": slot}
        if not grace:
            self.misfire_grace_time = None

    def __getattr__(self, name):
        return getattr(self._job, name)

    def __str__(self) -> str:
        return str(self._job)


class SlotThreadPoolExecutor(ThreadPoolExecutor):
    """Also counts the fires submitted and not yet ended, and which (job, slot) they are for: the job store claims
    no more than the pool can start soon, and a reload never fires again a slot that is queued or running here.

    `policy_of(job_id)` gives a job's catch-up policy and jitter (catch_up.JobPolicy; the default without it)."""

    def __init__(self, max_workers: int = 10, *, on_coalesced: Callable[..., None] | None = None,
                 policy_of: Callable[[str], JobPolicy] | None = None, **kwargs):
        super().__init__(max_workers, **kwargs)
        self.max_workers = max_workers
        self.on_coalesced = on_coalesced
        self.policy_of = policy_of or (lambda _job_id: JobPolicy())
        self.stopping = threading.Event()  # set by shutdown: cuts jitter delays short
        self._fires: dict[str, set] = {}  # job id -> slots submitted and not ended
        self._fires_mutex = threading.Lock()
        self._windowed: set[str] = set()  # jobs whose next submit fires slots the catch-up window chose

    def capacity(self) -> int:
        """Fires this pool can take now: its workers, plus as many queued behind them."""
        with self._fires_mutex:
            busy = sum(len(slots) for slots in self._fires.values())
        return 2 * self.max_workers - busy

    def slots_in_flight(self, job_id: str) -> set:
        with self._fires_mutex:
            return set(self._fires.get(job_id, ()))

    def _fire_started(self, job_id: str, slots) -> None:
        with self._fires_mutex:
            self._fires.setdefault(job_id, set()).update(slots)

    def _fire_ended(self, job_id: str) -> None:
        # max_instances is 1: a job's fire that ends was its only one in this pool
        with self._fires_mutex:
            self._fires.pop(job_id, None)
        if self._scheduler is not None:
            self._scheduler.wakeup()  # room in the pool: claim more now, not at the next due time

    def shutdown(self, wait=True):
        self.stopping.set()
        super().shutdown(wait)

    def submit_job(self, job, run_times):
        # The catch-up policy decides, and its misses are reported, before APScheduler's max-instances check,
        # which raises before `_do_submit_job`: whatever happens to the fire (run, SKIPPED for max instances, a
        # submit error), APScheduler moves the job's next run time past every slot in `run_times`, so the
        # missed ones are gone.
        run_times = self._catch_up(job, run_times)
        if not run_times:
            return None  # catch-up policy none: nothing fires (the misses are recorded)
        try:
            return super().submit_job(job, run_times)
        except MaxInstancesReachedError:
            # APScheduler's event records the latest slot SKIPPED; older slots of an all_within catch-up get a row.
            if len(run_times) > 1 and self.on_coalesced is not None:
                self.on_coalesced(job.id, run_times[:-1], run_times[-1], because="the job's previous run was still "
                                  "running (max instances reached); the latest slot is recorded SKIPPED")
            raise
        finally:
            self._windowed.discard(job.id)

    def _catch_up(self, job, run_times) -> list:
        # The job's next_run_time is still the earliest due slot here; APScheduler moves it on after submitting.
        if not run_times or self.on_coalesced is None or not job.coalesce or job.next_run_time is None:
            return run_times
        latest = run_times[-1]
        plan = catch_up.catch_up_plan(policy=self.policy_of(job.id), trigger=job.trigger,
                                      first_due=job.next_run_time, latest=latest, now=datetime.now(UTC),
                                      limit=COALESCED_COUNT_LIMIT)
        if plan.missed:
            if plan.because is None:
                self.on_coalesced(job.id, plan.missed, latest)
            else:
                self.on_coalesced(job.id, plan.missed, latest, because=plan.because, capped=plan.capped)
        if plan.no_grace:
            self._windowed.add(job.id)  # read by _do_submit_job, in this same call (the scheduler's loop)
        return plan.run

    def _do_submit_job(self, job, run_times):
        """Each slot fires with its own `scheduled_for`, oldest first, in one pool worker (a catch-up of several
        slots runs them one after another), with the job's jitter."""
        wants_slot = getattr(job.func, "wants_slot", False)
        grace = job.id not in self._windowed
        policy = self.policy_of(job.id)
        self._fire_started(job.id, run_times if wants_slot else [run_times[-1] if run_times else None])
        alias, logger_name = job._jobstore_alias, self._logger.name

        def fire():
            with jitter.fire_context(seconds=policy.jitter_seconds, stopping=self.stopping):
                if not wants_slot:
                    return run_job(job, alias, run_times, logger_name)
                events = []
                for slot in run_times:
                    events += run_job(_SlotJob(job, slot, grace=grace), alias, [slot], logger_name)
                return events

        def done(future):
            exc = future.exception()
            if exc:
                self._run_job_error(job.id, exc, getattr(exc, "__traceback__", None))
            else:
                self._run_job_success(job.id, future.result())

        try:
            self._pool.submit(fire).add_done_callback(done)
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
