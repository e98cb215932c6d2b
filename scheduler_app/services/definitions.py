"""Job definitions as operators edit them (the seeding from the registry is `scheduler_app.definitions`)."""

from __future__ import annotations

from scheduler_app.models import JobDefinition
from scheduler_app.services.scheduler_instances import scheduler_reload_request


def job_definition_update(*, definition: JobDefinition, data: dict) -> JobDefinition:
    """Edit a job's schedule and policy (validated like the admin form), then ask every scheduler to reload.

    Only the fields edited are written: a pause or resume made since `definition` was read stands."""
    for name, value in data.items():
        setattr(definition, name, value)
    definition.full_clean()
    definition.save(update_fields=[*data, "updated_at"])
    scheduler_reload_request()
    return definition
