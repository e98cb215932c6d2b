"""Run history and definitions: who may read which runs, a slot's runs, a job's definition."""

from __future__ import annotations

from django.db.models import Count, Max, Min, Q

from scheduler_app.models import JobDefinition, JobRun


def job_runs_visible(*, user):
    """Staff read every run; others the runs they triggered or that belong to their teams."""

    runs = JobRun.objects.select_related("user", "team")
    if user.is_staff:
        return runs
    return runs.filter(Q(user=user) | Q(team__in=user.teams.values("pk")))


def job_runs_list(*, user, job_id: str | None = None, status: str | None = None, trigger: str | None = None,
                  team=None):
    runs = job_runs_visible(user=user)
    for field, value in (("job_id", job_id), ("status", status), ("trigger", trigger), ("team", team)):
        if value is not None:
            runs = runs.filter(**{field: value})
    return runs.order_by("-id")


def scheduled_slot_has_run(*, job_id: str, scheduled_for) -> bool:
    """Has this slot a run that the per-slot guard counts (anything but SKIPPED/MISSED)?"""
    return (JobRun.objects.filter(job_id=job_id, trigger=JobRun.Trigger.SCHEDULED, scheduled_for=scheduled_for)
            .exclude(status__in=[JobRun.Status.SKIPPED, JobRun.Status.MISSED]).exists())


def scheduled_slot_fires(*, job_id: str, scheduled_for) -> set[str]:
    """The statuses of the slot's rows, whatever they are: empty while no fire of it has been recorded yet."""
    return set(JobRun.objects.filter(job_id=job_id, trigger=JobRun.Trigger.SCHEDULED, scheduled_for=scheduled_for)
               .values_list("status", flat=True))


def scheduled_slots_run(*, job_id: str, slots: list) -> set:
    """Those of `slots` that have a run the per-slot guard counts (any scheduler's)."""
    if not slots:
        return set()
    ran = set(JobRun.objects.filter(job_id=job_id, trigger=JobRun.Trigger.SCHEDULED,
                                    scheduled_for__gte=min(slots), scheduled_for__lte=max(slots))
              .exclude(status__in=[JobRun.Status.SKIPPED, JobRun.Status.MISSED])
              .values_list("scheduled_for", flat=True))
    return ran & set(slots)


def job_run_get(*, run_id: int) -> JobRun | None:
    return JobRun.objects.filter(pk=run_id).first()


def job_runs_running_since(*, job_id: str, exclude_run_id: int | None = None):
    """The earliest start among the job's RUNNING runs (leaving out `exclude_run_id`), or None when none runs:
    what such a run writes is stamped at or after it (readers of late commits bound their reads by it)."""
    runs = JobRun.objects.filter(job_id=job_id, status=JobRun.Status.RUNNING, started_at__isnull=False)
    if exclude_run_id is not None:
        runs = runs.exclude(pk=exclude_run_id)
    return runs.aggregate(since=Min("started_at"))["since"]


def job_definition_get(*, job_id: str) -> JobDefinition | None:
    return JobDefinition.objects.filter(job_id=job_id).first()


def job_definition_admin_id(*, job_id: str) -> int | None:
    """The definition's primary key (the admin's links to its page), or None."""
    return JobDefinition.objects.filter(job_id=job_id).values_list("pk", flat=True).first()


def job_definitions_version() -> tuple:
    """Changes whenever a definition is added, removed, edited or a reload is requested (the DB control path)."""

    agg = JobDefinition.objects.aggregate(n=Count("id"), newest=Max("updated_at"))
    return agg["n"], agg["newest"]
