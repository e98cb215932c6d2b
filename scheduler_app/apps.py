from django.apps import AppConfig


class SchedulerAppConfig(AppConfig):
    name = "scheduler_app"
    verbose_name = "Scheduler"

    def ready(self) -> None:
        # Importing the jobs registers them. No scheduler starts here: only `manage.py runscheduler` runs one.
        import importlib

        from django.conf import settings
        from django.db.models.signals import post_migrate

        from scheduler_app import jobs  # noqa: F401

        for module in settings.EXTRA_JOB_MODULES:
            importlib.import_module(module)
        post_migrate.connect(_seed_job_definitions, sender=self)


def _seed_job_definitions(sender, **kwargs) -> None:
    """After migrate: a definition for every registered job that has none (edits are never overwritten)."""
    from scheduler_app.services import job_definitions_sync

    job_definitions_sync()
