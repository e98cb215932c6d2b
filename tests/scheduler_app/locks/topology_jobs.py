"""A job for the topology tests (registered in subprocesses through EXTRA_JOB_MODULES): it writes when it starts and
ends to a record file, so a test can prove that no two runs overlapped, whatever happened to Redis meanwhile."""

from __future__ import annotations

import os
import time

from scheduler_app.context import current_job_context
from scheduler_app.job_wrapper import with_execution_lock


def _note(record: str, what: str) -> None:
    with open(record, "a", encoding="utf-8") as f:
        f.write(f"{what} {os.getpid()} {time.time():.3f}\n")


@with_execution_lock(timeout_minutes=1, name="Recorded hold")
def recorded_hold_job(*, seconds: float = 0.0, record: str = "") -> dict:
    """Holds its lock for `seconds`, checking its context, between a `start` and an `end` line in `record`."""
    ctx = current_job_context()
    _note(record, "start")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ctx.check()
        time.sleep(0.02)
    _note(record, "end")
    return {"held": seconds}
