"""A trigger source of the storm, in a process of its own: `storm_worker.py <source> <mode> <count> <seed> <go-file>`.

Waits for <go-file>, then fires <count> triggers of chaos_writer, each one recorded (`trigger <source> <n>`) before
it is fired:
  mode admin   services.job_run(trigger="admin", ...)
  mode direct  a plain call of the decorated function (trigger "direct"; blocked -> LockNotAcquired)
A trigger that raises anything but a run's own outcome is recorded as `error <source> <n> <exception>`.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobsite.settings")

import django  # noqa: E402

django.setup()

from scheduler_app import services  # noqa: E402
from scheduler_app.context import JobCancelled  # noqa: E402
from scheduler_app.locks import LockNotAcquired, LockServiceUnavailable  # noqa: E402
from tests.chaos.chaos_jobs import chaos_writer, record  # noqa: E402
from tests.chaos.harness import storm_params  # noqa: E402


def main() -> None:
    source, mode, count, seed, go_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    rng = random.Random(seed)
    while not os.path.exists(go_file):
        time.sleep(0.01)
    for n in range(count):
        params = storm_params(rng)
        wait = rng.choice([0, 0, 0, 0, 0.3, 1.0])
        record(f"trigger {source} {n}")
        try:
            if mode == "admin":
                services.job_run(job_id="chaos_writer", trigger="admin", params=params, wait_seconds=wait)
            else:
                try:
                    chaos_writer(**params)
                except (LockNotAcquired, LockServiceUnavailable, JobCancelled):
                    pass  # the run's own outcome (blocked, unavailable, lost), recorded in its JobRun row
        except Exception as exc:  # noqa: BLE001 - a trigger must never crash; the judge reports it
            record(f"error {source} {n} {type(exc).__name__}: {str(exc)[:200]!r}")
        time.sleep(rng.uniform(0.02, 0.12))


if __name__ == "__main__":
    main()
