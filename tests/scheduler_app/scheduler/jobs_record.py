"""Jobs that keep a record of their own runs, for the deploy and catch-up tests against real `runscheduler`
processes (tests/scheduler_app/scheduler/test_deploy.py). Registered in the schedulers only, through
EXTRA_JOB_MODULES, when SLOT_RECORD names the record file (the test process makes their definitions itself, so the
rest of the suite never sees them). Each run appends one line, in one O_APPEND write (lines of several processes
never interleave), before anything that could cancel it:

    <job_id> <slot iso> <run_id> <pid>
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from scheduler_app.context import current_job_context
from scheduler_app.job_wrapper import with_execution_lock

RECORD_ENV = "SLOT_RECORD"
JOB_IDS = ["slot_record_job", "slot_record_latest", "slot_record_none", "slot_record_all"]


def _body() -> dict:
    from scheduler_app.models import JobRun  # noqa: PLC0415 - the job modules load before the models are ready

    ctx = current_job_context()
    slot = JobRun.objects.values_list("scheduled_for", flat=True).get(pk=ctx.run_id)
    line = f"{ctx.job_id} {slot.isoformat() if slot else '-'} {ctx.run_id} {os.getpid()}\n"
    fd = os.open(os.environ[RECORD_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return {}


def record_read(path: Path) -> list[tuple[str, datetime, int, int]]:
    """The record's lines: (job id, slot, run id, pid), in the order they were written."""
    if not path.exists():
        return []
    lines = []
    for raw in path.read_text().splitlines():
        job_id, slot, run_id, pid = raw.split()
        lines.append((job_id, datetime.fromisoformat(slot), int(run_id), int(pid)))
    return lines


if os.environ.get(RECORD_ENV):  # a scheduler of the test (the test process itself registers none)
    for _job_id in JOB_IDS:
        with_execution_lock(timeout_minutes=1, job_id=_job_id, name=_job_id)(_body)
