"""manage.py runjob <job_id> [--team ID] [--wait SECONDS] [--overlap skip|wait|queue_one|replace] [--param k=v ...]

Exit codes: 0 SUCCEEDED/PARTIAL, 1 FAILED/TIMED_OUT/LOST_LOCK/ABANDONED/CANCELLED, 2 usage error, 3 blocked (the
lock held, or queue_one's queue full), 4 lock service unavailable (LOCK_FALLBACK=fail) or the run could not be
recorded (database unavailable).
SIGTERM (a deploy) cancels the run: it ends CANCELLED at its next ctx.check(), releases its lock, and runjob exits.
"""

from __future__ import annotations

import signal
import sys
import threading

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from scheduler_app import selectors, services
from scheduler_app.models import JobRun
from scheduler_app.params import params_parse
from scheduler_app.progress_bar import progress_display
from scheduler_app.registry import InvalidJobParams, JobNotFound, job_id_validator
from scheduler_app.teams import team_from_id

EXIT = {
    JobRun.Status.SUCCEEDED: 0,
    JobRun.Status.PARTIAL: 0,
    JobRun.Status.FAILED: 1,
    JobRun.Status.TIMED_OUT: 1,
    JobRun.Status.LOST_LOCK: 1,
    JobRun.Status.ABANDONED: 1,
    JobRun.Status.CANCELLED: 1,
}
REFUSED_EXIT = {selectors.Refusal.LOCK_HELD: 3, selectors.Refusal.QUEUE_FULL: 3,
                selectors.Refusal.LOCK_UNAVAILABLE: 4, selectors.Refusal.NOT_RECORDED: 4}


class Command(BaseCommand):
    help = "Run one job now, behind its execution lock, and print the run."

    def add_arguments(self, parser) -> None:
        parser.add_argument("job_id")
        parser.add_argument("--team", type=int, help="Team id (per-team lock scope, team's saved searches).")
        parser.add_argument("--wait", type=float, default=None, help="Seconds to wait for the lock (default: the "
                            "job's policy; 0 fails fast).")
        parser.add_argument("--overlap", choices=services.OverlapPolicy.values, default=None,
                            help="What this trigger does while the job runs (default: the job's overlap policy); "
                                 "a queued run is waited for.")
        parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")

    def handle(self, *args, job_id: str, team: int | None, wait: float | None, param: list[str],
               overlap: str | None = None, **options):
        try:
            params = params_parse(param)
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from None
        if wait is not None and not 0 <= wait <= 600:
            raise CommandError("--wait must be between 0 and 600 seconds", returncode=2)
        try:
            job_id_validator(job_id)
            team_obj = None if team is None else team_from_id(team)
        except (ValidationError, ValueError) as exc:
            message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            raise CommandError(message, returncode=2) from None
        # From another thread: the handler may interrupt the job inside its own commit.
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=services.job_runs_cancel_active).start())
        with progress_display(enabled=sys.stdout.isatty()) as progress:
            try:
                run = services.job_run(job_id=job_id, trigger=JobRun.Trigger.CLI, team=team_obj,
                                       wait_seconds=wait, overlap=overlap, params=params, progress=progress)
            except JobNotFound as exc:
                raise CommandError(str(exc), returncode=2) from None
            except InvalidJobParams as exc:
                raise CommandError(str(exc), returncode=2) from None
            except services.RunNotRecorded as exc:
                self.stderr.write(selectors.run_not_recorded_refusal(job_id=job_id, error=exc).message)
                sys.exit(4)
        duration = f"{run.duration_ms:.0f} ms" if run.duration_ms is not None else "-"
        self.stdout.write(f"run {run.pk}  job {run.job_id}  status {run.status}  duration {duration}")
        for warning in run.warnings or []:
            self.stdout.write(self.style.WARNING(f"warning: {warning}"))
        refusal = selectors.run_refusal(run=run)
        if refusal is not None:
            self.stderr.write(refusal.message)
            sys.exit(REFUSED_EXIT[refusal.kind])
        if run.error:
            self.stderr.write(run.error)
        code = EXIT.get(run.status, 1)
        if code:
            sys.exit(code)
