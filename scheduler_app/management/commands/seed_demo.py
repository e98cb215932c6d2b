"""Idempotent demo data for `make run`: admin superuser, a non-staff demo user, their API tokens, team 1, job
definitions, and the job sources (through the domain's own seeding service)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from scheduler_app.demo import demo_data_seed


class Command(BaseCommand):
    help = "Create demo data (idempotent) and print the API tokens."

    def handle(self, *args, **options):
        seeded = demo_data_seed()
        if not seeded["redis"]:
            self.stdout.write(self.style.WARNING(
                "WARNING: Redis is not reachable at REDIS_URL; execution locks use the database lease "
                "(LOCK_FALLBACK=database). Start Redis for the primary lock backend."))
        for line in seeded["lines"]:
            self.stdout.write(line)
