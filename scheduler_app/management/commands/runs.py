"""manage.py runs cancel RUN_ID [--wait SECONDS]"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from scheduler_app import selectors, services

POLL_SECONDS = 0.25


class Command(BaseCommand):
    help = "Act on runs: cancel one (it stops at its next ctx.check() and ends CANCELLED)."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        cancel = sub.add_parser("cancel", help="Cancel a queued or running run.")
        cancel.add_argument("run_id", type=int)
        cancel.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                            help="Wait up to this long for the run to end, and print its final status.")

    def handle(self, *args, action: str, run_id: int, wait: float, **options):
        try:
            result = services.job_run_cancel(run_id=run_id, source="cli")
        except services.RunNotFound as exc:
            raise CommandError(str(exc), returncode=2) from None
        if not result.accepted:
            raise CommandError(result.message, returncode=1)
        self.stdout.write(result.message)
        if wait <= 0:
            return
        deadline = time.monotonic() + wait
        while True:
            run = selectors.job_run_get(run_id=run_id)
            if run.is_finished:
                self.stdout.write(f"Run #{run_id} ended {run.status}.")
                return
            if time.monotonic() >= deadline:
                raise CommandError(f"Run #{run_id} is still {run.status} after {wait:g} s.", returncode=1)
            time.sleep(POLL_SECONDS)
