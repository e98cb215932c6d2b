"""No-op jobs for benchmarks/bench_scheduler.py, registered in its `runscheduler` subprocesses through
EXTRA_JOB_MODULES=bench_scheduler_jobs (the benchmark puts this directory on PYTHONPATH, so the module is found by
the same name in the current checkout and in a baseline worktree of an older commit that lacks it).

BENCH_SCHED_JOBS=N registers N jobs, bench_noop_0000 ... bench_noop_<N-1>, each doing nothing. The benchmark gives
their definitions the cron `* * * * *` itself (SQL on the definitions table after `migrate` has seeded them), so
nothing here depends on which keyword arguments a given commit's `with_execution_lock` accepts beyond
`timeout_minutes` and `name`.
"""

from __future__ import annotations

import os

from scheduler_app.job_wrapper import with_execution_lock

JOB_PREFIX = "bench_noop_"


def _noop_job(index: int):
    def noop() -> None:
        return None

    noop.__name__ = noop.__qualname__ = f"{JOB_PREFIX}{index:04d}"  # the job id is the function's name
    return with_execution_lock(timeout_minutes=1, name=f"Bench no-op {index:04d}")(noop)


for _index in range(int(os.environ.get("BENCH_SCHED_JOBS", "0"))):
    globals()[f"{JOB_PREFIX}{_index:04d}"] = _noop_job(_index)
