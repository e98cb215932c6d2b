"""A job longer than its 1 s interval (imported by the in-process scheduler tests only)."""

import time

from scheduler_app.job_wrapper import with_execution_lock


@with_execution_lock(timeout_minutes=1, name="Slow tick")
def slow_tick_job() -> dict:
    time.sleep(2.2)
    return {"slept": 2.2}
