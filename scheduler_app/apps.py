from django.apps import AppConfig


class SchedulerAppConfig(AppConfig):
    name = "scheduler_app"
    verbose_name = "Scheduler"

    def ready(self) -> None:
        # Importing the jobs registers them. No scheduler starts here: only `manage.py runscheduler` runs one.
        import importlib

        from django.conf import settings

        from scheduler_app import jobs, signals  # noqa: F401

        for module in settings.EXTRA_JOB_MODULES:
            importlib.import_module(module)
