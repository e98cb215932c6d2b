"""manage.py runjob <job_id> [--team ID] [--wait SECONDS] [--param key=value ...]

Exit codes: 0 SUCCEEDED/PARTIAL, 1 FAILED/TIMED_OUT/LOST_LOCK, 2 usage error, 3 blocked, 4 lock service
unavailable (LOCK_FALLBACK=fail).
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from scheduler_app import services
from scheduler_app.cli import progress_display, resolve_team
from scheduler_app.models import JobRun
from scheduler_app.registry import InvalidJobParams, JobNotFound

EXIT = {
    JobRun.Status.SUCCEEDED: 0,
    JobRun.Status.PARTIAL: 0,
    JobRun.Status.FAILED: 1,
    JobRun.Status.TIMED_OUT: 1,
    JobRun.Status.LOST_LOCK: 1,
    JobRun.Status.ABANDONED: 1,
}


class Command(BaseCommand):
    help = "Run one job now, behind its execution lock, and print the run."

    def add_arguments(self, parser) -> None:
        parser.add_argument("job_id")
        parser.add_argument("--team", type=int, help="Team id (per-team lock scope, team's saved searches).")
        parser.add_argument("--wait", type=float, default=None, help="Seconds to wait for the lock (default: the "
                            "job's policy; 0 fails fast).")
        parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")

    def handle(self, *args, job_id: str, team: int | None, wait: float | None, param: list[str], **options):
        params = {}
        for item in param:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CommandError(f"--param expects KEY=VALUE, got {item!r}", returncode=2)
            params[key.strip()] = value
        if wait is not None and not 0 <= wait <= 600:
            raise CommandError("--wait must be between 0 and 600 seconds", returncode=2)
        team_obj = resolve_team(team)
        with progress_display(enabled=sys.stdout.isatty()) as progress:
            try:
                run = services.job_run(job_id=job_id, trigger=JobRun.Trigger.CLI, team=team_obj,
                                       wait_seconds=wait, params=params, progress=progress)
            except JobNotFound as exc:
                raise CommandError(str(exc), returncode=2) from None
            except InvalidJobParams as exc:
                raise CommandError(str(exc), returncode=2) from None
        duration = f"{run.duration_ms:.0f} ms" if run.duration_ms is not None else "-"
        self.stdout.write(f"run {run.pk}  job {run.job_id}  status {run.status}  duration {duration}")
        for warning in run.warnings or []:
            self.stdout.write(self.style.WARNING(f"warning: {warning}"))
        if run.status == JobRun.Status.SKIPPED:
            if run.skip_reason == JobRun.SkipReason.LOCK_UNAVAILABLE:
                self.stderr.write(f"Lock service unavailable: {run.error}")
                sys.exit(4)
            blocked = run.blocked_by or {}
            holder = blocked.get("holder") or {}
            ttl = blocked.get("ttl_seconds")
            self.stderr.write(
                f"Job is already running: held by run {holder.get('run_id')} on "
                f"{holder.get('host')}:{holder.get('pid')}, TTL left "
                f"{'-' if ttl is None else f'{ttl:.1f} s'}"
            )
            sys.exit(3)
        if run.error:
            self.stderr.write(run.error)
        code = EXIT.get(run.status, 1)
        if code:
            sys.exit(code)
