"""manage.py healthcheck: the /healthz check from the command line. Exit 0 healthy, 1 unhealthy (database down)."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from logs_app.selectors import health_report


class Command(BaseCommand):
    help = "Check the database, Redis, the scheduler heartbeat and stuck locks (the same check as /healthz)."

    def handle(self, *args, **options):
        report = health_report()
        self.stdout.write(json.dumps(report.as_dict(), indent=2, default=str))
        if not report.healthy:
            sys.exit(1)
