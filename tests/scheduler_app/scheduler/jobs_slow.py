"""Jobs for the in-process scheduler tests only: one longer than its 1 s interval, one held until a test lets go."""

import threading
import time

from scheduler_app.job_wrapper import with_execution_lock

GATE = threading.Event()  # gated_job runs until a test sets it


@with_execution_lock(timeout_minutes=1, name="Slow tick")
def slow_tick_job() -> dict:
    time.sleep(2.2)
    return {"slept": 2.2}


@with_execution_lock(timeout_minutes=1, name="Gated")
def gated_job() -> dict:
    """Keeps its scheduler's instance count at 1 until GATE is set (at most 30 s: a failed test never hangs)."""
    return {"released": GATE.wait(timeout=30)}
