"""Timeout advice: the p95 of a job's successful run durations over its last runs, and the timeout that leaves
headroom over it (the seed guide's production recommendation 2: p95 x 1.5)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from django.db.models import F, Window
from django.db.models.functions import RowNumber

from scheduler_app.models import JobRun

SAMPLE_RUNS = 100
HEADROOM = 1.5
FAR_ABOVE = 10  # a timeout this many times the p95 lets a hung run block its job for that long


@dataclass(frozen=True)
class TimeoutAdvice:
    runs: int
    p95_seconds: float | None
    advised_minutes: float | None
    warning: str

    def as_dict(self) -> dict:
        return asdict(self)


def timeout_advice(*, timeouts: dict[str, float]) -> dict[str, TimeoutAdvice]:
    """Advice for each job of `timeouts` (job id -> its timeout in minutes), in one query however many jobs."""
    durations: dict[str, list[float]] = {job_id: [] for job_id in timeouts}
    ranked = (JobRun.objects.filter(job_id__in=list(timeouts), status=JobRun.Status.SUCCEEDED,
                                    duration_ms__isnull=False)
              .annotate(rank=Window(RowNumber(), partition_by=[F("job_id")], order_by=F("id").desc()))
              .filter(rank__lte=SAMPLE_RUNS).values_list("job_id", "duration_ms"))
    for job_id, duration_ms in ranked:
        durations[job_id].append(duration_ms / 1000)
    return {job_id: _advice(durations[job_id], timeouts[job_id]) for job_id in timeouts}


def _advice(seconds: list[float], timeout_minutes: float) -> TimeoutAdvice:
    if not seconds:
        return TimeoutAdvice(runs=0, p95_seconds=None, advised_minutes=None, warning="")
    seconds.sort()
    p95 = seconds[max(0, math.ceil(0.95 * len(seconds)) - 1)]  # nearest rank
    advised = max(0.01, math.ceil(p95 * HEADROOM / 60 * 100) / 100)  # minutes, rounded up to 0.01
    timeout = timeout_minutes * 60
    warning = ""
    if timeout < p95:
        warning = (f"The timeout ({timeout_minutes:g} min) is below the p95 of successful runs ({p95:.1f} s): "
                   "more than 1 run in 20 would be stopped TIMED_OUT.")
    elif timeout > FAR_ABOVE * p95 and timeout > 60:
        warning = (f"The timeout ({timeout_minutes:g} min) is over {FAR_ABOVE} x the p95 of successful runs "
                   f"({p95:.1f} s): a hung run blocks the job that long.")
    return TimeoutAdvice(runs=len(seconds), p95_seconds=round(p95, 3), advised_minutes=advised, warning=warning)
