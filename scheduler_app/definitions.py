"""Job definitions seeded from the registry: a decorator's values create a definition once; edits win after."""

from __future__ import annotations

from scheduler_app import registry
from scheduler_app.models import JobDefinition


def job_definitions_sync() -> int:
    """Create a JobDefinition for every registered job that has none. Never overwrites an edit."""
    existing = set(JobDefinition.objects.values_list("job_id", flat=True))
    created = 0
    for spec in registry.all_specs():
        if spec.job_id in existing:
            continue
        JobDefinition.objects.get_or_create(
            job_id=spec.job_id,
            defaults=dict(
                name=spec.name,
                trigger_type=JobDefinition.TriggerType.INTERVAL if spec.interval_seconds else
                JobDefinition.TriggerType.CRON,
                cron=spec.cron,
                interval_seconds=spec.interval_seconds,
                timeout_minutes=spec.timeout_minutes,
                lock_scope=spec.scope,
                wait_seconds=spec.wait_seconds,
                # The decorator's wait_seconds meant "wait" before overlap policies: it still does.
                overlap_policy=JobDefinition.OverlapPolicy.WAIT if spec.wait_seconds > 0 else
                JobDefinition.OverlapPolicy.SKIP,
            ),
        )
        created += 1
    return created
