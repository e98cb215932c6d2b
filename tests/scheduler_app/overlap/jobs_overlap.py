"""The overlap tests' job (registered in subprocesses through EXTRA_JOB_MODULES=...,tests.scheduler_app.overlap.
jobs_overlap, and here by importing it): it appends its start and end to a record file the test reads, and runs
until a release file exists, checking its context (so a replace or a cancel stops it at once)."""

from __future__ import annotations

import os
import time

from scheduler_app.context import current_job_context
from scheduler_app.job_wrapper import with_execution_lock


@with_execution_lock(timeout_minutes=1, name="Overlap recorder")
def overlap_job(*, record: str = "", release_file: str = "", tag: str = "") -> dict:
    """A scheduled fire passes no params: then the files come from OVERLAP_RECORD / OVERLAP_RELEASE."""
    ctx = current_job_context()
    record = record or os.environ["OVERLAP_RECORD"]
    release_file = release_file or os.environ.get("OVERLAP_RELEASE", "")
    _append(record, f"start {ctx.run_id} {time.time():.6f} {tag}")
    try:
        while release_file and not os.path.exists(release_file):
            ctx.check()
            time.sleep(0.02)
        ctx.check()
    finally:
        _append(record, f"end {ctx.run_id} {time.time():.6f} {tag}")
    return {"tag": tag}


def _append(path: str, line: str) -> None:
    # O_APPEND: each line lands whole, whichever process writes it
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def intervals(path: str) -> dict[int, tuple[float, float | None]]:
    """{run_id: (start, end)} from the record file."""
    spans: dict[int, list] = {}
    with open(path) as handle:
        for line in handle:
            kind, run_id, moment = line.split()[:3]
            spans.setdefault(int(run_id), [None, None])[0 if kind == "start" else 1] = float(moment)
    return {run_id: (start, end) for run_id, (start, end) in spans.items()}


def assert_no_overlap(path: str) -> list[int]:
    """No two [start, end] intervals overlap; returns the run ids in start order."""
    spans = sorted(intervals(path).items(), key=lambda item: item[1][0])
    for (first, (_, end)), (second, (start, _)) in zip(spans, spans[1:], strict=False):
        assert end is not None and start >= end, f"run {second} started before run {first} ended: {spans}"
    return [run_id for run_id, _ in spans]
