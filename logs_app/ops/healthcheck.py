"""manage.py healthcheck [--strict]: the /healthz check from the command line.

Exit 0 healthy, 1 unhealthy (database down, as /healthz's 503). With --strict, "degraded" (Redis down, no live
scheduler, a stuck lock) is unhealthy too.
"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from logs_app.ops.checks import health_report


class Command(BaseCommand):
    help = "Check the database, Redis, the scheduler heartbeat and stuck locks (the same check as /healthz)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--strict", action="store_true", help="Exit 1 when degraded, not only when down.")

    def handle(self, *args, strict: bool = False, **options):
        report = health_report()
        self.stdout.write(json.dumps(report.as_dict(), indent=2, default=str))
        if not report.healthy or (strict and report.status != "ok"):
            sys.exit(1)
