"""manage.py seed_demo: idempotent demo data for `make run` (users and their API tokens, team 1, the job sources, a
saved search and an automation rule). Like every command, it shows the system checks' warnings first, so a Redis
that does not answer is said loudly."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from scraping_app.services import demo_data_seed


class Command(BaseCommand):
    help = "Create demo data (idempotent) and print the API tokens."

    def handle(self, *args, **options):
        for line in demo_data_seed():
            self.stdout.write(line)
