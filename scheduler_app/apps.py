import importlib

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate


class SchedulerAppConfig(AppConfig):
    name = "scheduler_app"
    verbose_name = "Scheduler"

    def ready(self) -> None:
        # Importing the jobs registers them. No scheduler starts here: only `manage.py runscheduler` runs one.
        # The job modules import models, which Django loads only once every app config exists: hence here.
        importlib.import_module("scheduler_app.jobs")
        importlib.import_module("scheduler_app.checks")
        for module in settings.EXTRA_JOB_MODULES:
            importlib.import_module(module)
        post_migrate.connect(_seed_job_definitions, sender=self)


def _seed_job_definitions(sender, **kwargs) -> None:
    """After migrate: a definition for every registered job that has none (edits are never overwritten)."""
    from scheduler_app.definitions import job_definitions_sync  # noqa: PLC0415 - models load after apps.py

    job_definitions_sync()
