"""Signals the lock core sends (metrics subscribe to them), and seeding of job definitions after migrate."""

from django.db.models.signals import post_migrate
from django.dispatch import Signal, receiver

# job_id, result ("acquired" | "blocked" | "fallback" | "error"), wait_seconds
lock_attempted = Signal()
# run (a finished JobRun), held_seconds
run_finished = Signal()


@receiver(post_migrate)
def seed_job_definitions(sender, **kwargs) -> None:
    if getattr(sender, "name", None) != "scheduler_app":
        return
    from scheduler_app.services import job_definitions_sync

    job_definitions_sync()
