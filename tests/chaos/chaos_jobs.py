"""The chaos suite's test job (registered in subprocesses through EXTRA_JOB_MODULES=...,tests.chaos.chaos_jobs).

`chaos_writer` writes one row per iteration into the test's own table `chaos_write` through `ctx.atomic()`, and
appends what it does to the scenario's record file (env CHAOS_RECORD), one `os.write` per line (O_APPEND), so a
line survives a kill -9 of the writer the moment it is written:

    start <run_id> <time.time()> <pid> <fencing_token>
    saw <run_id> <ranges of chaos_write ids of other runs, visible when this run's body began>
    commit <run_id> <seq>
    inside <run_id> <seq>        (stop_inside only: about to SIGSTOP itself inside an open ctx.atomic())
    end <run_id> <time.time()> <outcome>

The `saw` line is the judge's clock for stale commits: it is read first thing in the body, so a row of an older run
that exists at the end but is missing from a newer run's `saw` set was committed after the newer run had started.
(A writer may be stopped between its COMMIT and its `commit` line, so commit lines alone cannot order commits.)
"""

from __future__ import annotations

import os
import random
import signal
import time

from django.db import connection

from scheduler_app.context import current_job_context
from scheduler_app.job_wrapper import with_execution_lock

TABLE = "chaos_write"


def record(line: str) -> None:
    path = os.environ.get("CHAOS_RECORD")
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def encode_ranges(ids: list[int]) -> str:
    """[1, 2, 3, 7, 9, 10] -> '1-3,7,9-10' (ids are mostly contiguous: the saw lines stay short)."""
    parts: list[str] = []
    ids = sorted(ids)
    i = 0
    while i < len(ids):
        j = i
        while j + 1 < len(ids) and ids[j + 1] == ids[j] + 1:
            j += 1
        parts.append(str(ids[i]) if i == j else f"{ids[i]}-{ids[j]}")
        i = j + 1
    return ",".join(parts) or "-"


def decode_ranges(text: str) -> set[int]:
    out: set[int] = set()
    if text in ("", "-"):
        return out
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


@with_execution_lock(timeout_minutes=5, job_id="chaos_writer", name="Chaos writer")
def chaos_writer(*, iterations: int = 5, pause_ms: float = 0.0, jitter_ms: float = 0.0,
                 stop_inside: int = -1, seconds: float = 0.0) -> dict:
    """`iterations` fenced writes, `pause_ms` (+ up to `jitter_ms`) apart; with `seconds`, stop writing once that
    long has passed (monotonic: a SIGSTOP counts), whatever is left of `iterations`."""
    ctx = current_job_context()
    began = time.monotonic()
    run_id = ctx.run_id
    record(f"start {run_id} {time.time():.6f} {os.getpid()} {ctx.fencing_token}")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {TABLE} WHERE run_id <> %s", [run_id])
        seen = [row[0] for row in cursor.fetchall()]
    record(f"saw {run_id} {encode_ranges(seen)}")
    outcome = "exception"
    try:
        for seq in range(iterations):
            if seconds and time.monotonic() - began >= seconds:
                break
            with ctx.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(f"INSERT INTO {TABLE} (run_id, seq) VALUES (%s, %s)", [run_id, seq])
                if seq == stop_inside:
                    record(f"inside {run_id} {seq}")
                    os.kill(os.getpid(), signal.SIGSTOP)  # frozen inside the open transaction
            record(f"commit {run_id} {seq}")
            pause = pause_ms + (random.uniform(0, jitter_ms) if jitter_ms else 0.0)
            if pause > 0:
                time.sleep(pause / 1000)
        outcome = "ok"
    except BaseException as exc:
        outcome = type(exc).__name__
        raise
    finally:
        record(f"end {run_id} {time.time():.6f} {outcome}")
    return {"iterations": iterations}
