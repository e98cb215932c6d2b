"""The shared job store, with slot claims: several schedulers split the due jobs instead of each firing all of them.

django-apscheduler's DjangoJobStore has no cross-process coordination (APScheduler's FAQ says so of every job
store): every scheduler reads the same due jobs and fires them all, and the per-slot guard turns the extra fires
into SKIPPED rows. Here a scheduler claims the slots it will fire first, all of a wakeup's in ONE statement, a
conditional UPDATE that moves each claimed job's next run time on only if no other scheduler has moved it since it
was read, as db-scheduler does. The UPDATE returns what it claimed; the rest belong to another scheduler, and this
one writes nothing for them. APScheduler then updates each fired job's store row, one statement per job: for a
claimed job that update is the claim itself, so it is skipped.

Each scheduler takes due jobs in its own random order, and no more than its pool can start soon (`capacity`), so a
busy scheduler leaves the rest to the others instead of queueing them, and the same tail does not starve in each.

django-apscheduler's execution rows (DjangoJobExecution, written by its result-store mixin behind a process-wide
lock) are not written: the JobRun row records every fire, and that lock serialised the pool.

A reload rewrites jobs from what it read at its start, and a claim may move a job's row on meanwhile (its slot
fired): the reload's writes are conditional too (`writes_unless_moved`), or they would bring the claimed slot back
and fire it again.
"""

from __future__ import annotations

import logging
import pickle
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from apscheduler.job import Job
from apscheduler.jobstores.base import BaseJobStore
from django.db import close_old_connections, connection
from django_apscheduler.jobstores import DjangoJobStore
from django_apscheduler.models import DjangoJob
from django_apscheduler.util import get_django_internal_datetime

from scheduler_app import raw_sql

logger = logging.getLogger("scheduler_app")

TABLE = DjangoJob._meta.db_table
CLAIM_CHUNK = 500  # jobs per claim statement (SQLite allows 32,766 parameters; six a job)


class ClaimingJobStore(DjangoJobStore):
    def __init__(self, *, capacity: Callable[[], int] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.capacity = capacity or (lambda: 1_000_000)
        self._claimed: dict[str, object] = {}  # job id -> the next run time its claim wrote
        self._claimed_mutex = threading.Lock()
        self.left_for_later = 0  # due jobs the last pass left unclaimed for want of capacity
        self._local = threading.local()  # this thread's conditional writes (a reload's)

    def start(self, scheduler, alias):
        # BaseJobStore's start, not the result-store mixin's: no DjangoJobExecution rows (the JobRun is the record).
        BaseJobStore.start(self, scheduler, alias)

    def get_due_jobs(self, now) -> list[Job]:
        # APScheduler catches this call's errors itself and tries again: drop a connection that broke (a database
        # restart) or outlived CONN_MAX_AGE first, or every later pass would fail on it.
        close_old_connections()
        due = self._due(now)
        random.shuffle(due)  # each scheduler its own order
        room = max(0, self.capacity())
        wanted, self.left_for_later = due[:room], max(0, len(due) - room)
        claimed: list[Job] = []
        for start in range(0, len(wanted), CLAIM_CHUNK):
            claimed += self._claim(wanted[start:start + CLAIM_CHUNK], now)
        return claimed

    def update_job(self, job: Job) -> None:
        with self._claimed_mutex:
            written = self._claimed.pop(job.id, None)
        if written is not None and written == job.next_run_time:
            return  # the claim wrote this very next run time (and the job's state with it)
        writes = getattr(self._local, "writes", None)
        if writes is not None and job.id in writes.read:
            writes.write(job, self.pickle_protocol)
            return
        super().update_job(job)

    def next_run_times(self) -> dict[str, object]:
        """job id -> next_run_time exactly as each row holds it (for `writes_unless_moved`)."""
        return dict(DjangoJob.objects.values_list("id", "next_run_time"))

    @contextmanager
    def writes_unless_moved(self, read: dict[str, object]) -> Iterator[UnmovedWrites]:
        """In this block, this thread's update of a job in `read` (`next_run_times()`) writes only if the row still
        holds that next run time; the jobs it did not write are in the yielded `moved`."""
        self._local.writes = UnmovedWrites(read)
        try:
            yield self._local.writes
        finally:
            self._local.writes = None

    def _due(self, now) -> list[tuple[Job, object]]:
        """(job, its next_run_time exactly as the row holds it) for the rows due at `now`."""
        rows = DjangoJob.objects.filter(next_run_time__lte=get_django_internal_datetime(now)).values_list(
            "id", "next_run_time", "job_state")
        due = []
        for job_id, stored_next, state in rows:
            try:
                due.append((self._reconstitute_job(state), stored_next))
            except Exception:  # noqa: BLE001 - as DjangoJobStore: an unloadable job is logged, not fatal
                logger.exception("Unable to restore scheduled job %s; it is not fired", job_id)
        return due

    def _claim(self, batch: list[tuple[Job, object]], now) -> list[Job]:
        """Claim `batch` in one UPDATE: each row's next run time moves from what was read to the job's next fire
        after this wakeup's run times, with the job's new state. Returns the jobs whose row this statement moved."""
        if not batch:
            return []
        plans = []
        for job, stored_next in batch:
            run_times = job._get_run_times(now)
            if not run_times:
                continue
            following = job.trigger.get_next_fire_time(run_times[-1], now)
            if following is None:
                continue  # a last fire: APScheduler removes the job after it, as it always has
            state = job.__getstate__()
            state["next_run_time"] = following
            plans.append((job, stored_next, following, pickle.dumps(state, self.pickle_protocol)))
        if not plans:
            return [job for job, _ in batch]
        ids = [job.id for job, *_ in plans]
        times = " ".join("WHEN %s THEN %s" for _ in plans)
        states = " ".join("WHEN %s THEN %s" for _ in plans)
        where = " OR ".join("(id = %s AND next_run_time = %s)" for _ in plans)
        params: list = []
        for job, _, following, _ in plans:
            params += [job.id, raw_sql.db_datetime(get_django_internal_datetime(following))]
        for job, _, _, state in plans:
            params += [job.id, state]
        for job, stored_next, _, _ in plans:
            params += [job.id, raw_sql.db_datetime(stored_next)]
        with connection.cursor() as cursor:  # one statement: its own transaction
            cursor.execute(f"UPDATE {TABLE} SET next_run_time = CASE id {times} END, "
                           f"job_state = CASE id {states} END WHERE {where} RETURNING id", params)
            won = {row[0] for row in cursor.fetchall()}
        with self._claimed_mutex:
            for job, _, following, _ in plans:
                if job.id in won:
                    self._claimed[job.id] = following
        last_fires = [job for job, _ in batch if job.id not in ids]
        return [job for job, *_ in plans if job.id in won] + last_fires


class UnmovedWrites:
    def __init__(self, read: dict[str, object]):
        self.read = read
        self.moved: set[str] = set()

    def write(self, job: Job, pickle_protocol: int) -> None:
        expected = self.read[job.id]
        rows = DjangoJob.objects.filter(id=job.id)
        rows = rows.filter(next_run_time__isnull=True) if expected is None else rows.filter(next_run_time=expected)
        written = rows.update(next_run_time=get_django_internal_datetime(job.next_run_time),
                              job_state=pickle.dumps(job.__getstate__(), pickle_protocol))
        if not written:
            self.moved.add(job.id)


def slot_hand_back(*, job_id: str, slot: datetime) -> bool:
    """Move a job's stored next run time back to `slot` (a fire of it stopped before it started, with its row
    ended): only if the row still holds what the slot's claim wrote, the trigger's next fire after the slot, so
    a newer schedule or a later claim always wins. One conditional UPDATE, column and job state together."""
    row = DjangoJob.objects.filter(id=job_id).values_list("next_run_time", "job_state").first()
    if row is None or row[0] is None:
        return False
    stored_next, state = row[0], pickle.loads(row[1])
    if state["trigger"].get_next_fire_time(slot, slot + timedelta(microseconds=1)) != stored_next:
        return False
    state["next_run_time"] = slot
    return bool(DjangoJob.objects.filter(id=job_id, next_run_time=stored_next).update(
        next_run_time=get_django_internal_datetime(slot), job_state=pickle.dumps(state, pickle.HIGHEST_PROTOCOL)))
