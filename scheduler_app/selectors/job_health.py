"""Per-job figures that are states, not counts: runs in flight, failures since the last success, the last success,
and when a held lock counts as stuck. Read at each /metrics scrape, in four grouped queries whatever the job count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, Max, OuterRef, Q, Subquery
from django.utils import timezone

from scheduler_app.models import JobDefinition, JobRun, SchedulerInstance

SUCCESS = (JobRun.Status.SUCCEEDED, JobRun.Status.PARTIAL)
# A run that started and did not do its work. CANCELLED (an operator or a shutdown asked) is neither success nor
# failure: it does not end a streak and does not extend one.
FAILURE = (JobRun.Status.FAILED, JobRun.Status.TIMED_OUT, JobRun.Status.LOST_LOCK, JobRun.Status.ABANDONED)


@dataclass(frozen=True)
class JobHealth:
    job_id: str
    in_flight: int
    consecutive_failures: int
    last_success_at: datetime | None
    stuck_after_seconds: float


def job_health_list() -> list[JobHealth]:
    """One entry per defined job (every job has its series, at 0 when idle), plus any job that has runs but no
    definition (a job removed from the code keeps its figures until its history goes)."""
    timeouts = dict(JobDefinition.objects.values_list("job_id", "timeout_minutes"))
    fresh_after = timezone.now() - timedelta(seconds=settings.LOCK_LEASE_SECONDS)
    in_flight = dict(JobRun.objects.filter(status=JobRun.Status.RUNNING, heartbeat_at__gte=fresh_after)
                     .order_by().values("job_id").annotate(n=Count("id")).values_list("job_id", "n"))
    last_success = dict(JobRun.objects.filter(status__in=SUCCESS).order_by().values("job_id")
                        .annotate(at=Max("finished_at")).values_list("job_id", "at"))
    failures = dict(_failures_since_last_success().values_list("job_id", "n"))
    jobs = sorted(set(timeouts) | set(in_flight) | set(last_success) | set(failures))
    return [JobHealth(job_id=job, in_flight=in_flight.get(job, 0), consecutive_failures=failures.get(job, 0),
                      last_success_at=last_success.get(job),
                      stuck_after_seconds=timeouts.get(job, 0) * 60 + settings.LOCK_LEASE_SECONDS)
            for job in jobs]


def _failures_since_last_success():
    latest_success = (JobRun.objects.filter(job_id=OuterRef("job_id"), status__in=SUCCESS, finished_at__isnull=False)
                      .order_by("-finished_at").values("finished_at")[:1])
    return (JobRun.objects.filter(status__in=FAILURE)
            .annotate(last_ok=Subquery(latest_success))
            .filter(Q(last_ok__isnull=True) | Q(finished_at__gt=F("last_ok")))
            .order_by().values("job_id").annotate(n=Count("id")))


def scheduler_last_heartbeat() -> datetime | None:
    """The newest heartbeat of any scheduler that has not stopped cleanly; None when none has run."""
    return (SchedulerInstance.objects.filter(stopped_at__isnull=True)
            .aggregate(last=Max("heartbeat_at"))["last"])
