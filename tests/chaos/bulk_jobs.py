"""Many no-op jobs for the slot tests (tests/chaos/test_scheduler_slots.py): CHAOS_BULK_JOBS of them, registered in
the schedulers only, through EXTRA_JOB_MODULES (the test process makes their definitions itself, so that the rest
of the suite never sees them). Each run appends one line to the file named by
CHAOS_BULK_RECORD, outside the project's tables (one O_APPEND write: lines of several processes never interleave):

    <job_id> <slot iso> <run_id> <pid> <start epoch> <end epoch>
"""

from __future__ import annotations

import os
import time

from scheduler_app.context import current_job_context
from scheduler_app.job_wrapper import with_execution_lock

COUNT = int(os.environ.get("CHAOS_BULK_JOBS", "60"))
RECORD_ENV = "CHAOS_BULK_RECORD"
BODY_SECONDS = float(os.environ.get("CHAOS_BULK_BODY_SECONDS", "0.02"))
JOB_IDS = [f"bulk_job_{i:04d}" for i in range(COUNT)]


def _body() -> dict:
    from scheduler_app.models import JobRun  # noqa: PLC0415 - the job modules load before the models are ready

    ctx = current_job_context()
    start = time.time()
    slot = JobRun.objects.values_list("scheduled_for", flat=True).get(pk=ctx.run_id)
    time.sleep(BODY_SECONDS)
    line = (f"{ctx.job_id} {slot.isoformat() if slot else '-'} {ctx.run_id} {os.getpid()} {start:.6f} "
            f"{time.time():.6f}\n")
    fd = os.open(os.environ[RECORD_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return {}


if os.environ.get(RECORD_ENV):  # a scheduler of the test (the test process itself registers none)
    for _job_id in JOB_IDS:
        with_execution_lock(timeout_minutes=1, job_id=_job_id, name=_job_id)(_body)
