"""manage.py schedule <subcommand> ...: a job's schedule from the command line.

    schedule preview JOB_ID [--from ISO] [--count N]   the next N fire times (default 10), with offsets and
                                                       daylight-saving notes; --from without an offset is in the
                                                       job's time zone (default: now)
    schedule pause JOB_ID --reason "..."               no slot fires or is recorded; manual triggers still run
    schedule resume JOB_ID                             fires again from its next slot; skipped slots are not run

Usage errors (unknown job, bad --from, --count out of 1..100, a blank reason) exit 2, as runjob's do. Pause and
resume are recorded as the operating-system user, source cli; a repeat says so and exits 0.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from scheduler_app import selectors, services
from scheduler_app.registry import job_id_validator


def _usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=2)


class Command(BaseCommand):
    help = "A job's schedule: preview its next fire times, pause it, resume it."

    def add_arguments(self, parser) -> None:
        subcommands = parser.add_subparsers(dest="subcommand", required=True)
        preview = subcommands.add_parser("preview", help="The next fire times, with offsets and DST notes.")
        preview.add_argument("job_id")
        preview.add_argument("--from", dest="start", metavar="ISO", help="Start instant, ISO 8601; without an "
                             "offset, in the job's time zone (default: now).")
        preview.add_argument("--count", type=int, default=10, help="How many (1-100, default 10).")

        pause = subcommands.add_parser("pause", help="Pause a job's schedule, saying why.")
        pause.add_argument("job_id")
        pause.add_argument("--reason", required=True, help="Why (shown in the status; at most 500 characters).")

        resume = subcommands.add_parser("resume", help="Resume a paused schedule from its next slot after now.")
        resume.add_argument("job_id")

    def handle(self, *args, subcommand: str, **options) -> None:
        getattr(self, f"handle_{subcommand}")(**options)

    def handle_preview(self, *, job_id: str, start: str | None, count: int, **options) -> None:
        try:
            job_id_validator(job_id)
        except ValidationError as exc:
            raise _usage_error(" ".join(exc.messages)) from None
        if not 1 <= count <= selectors.NEXT_RUNS_MAX:
            raise _usage_error(f"--count must be from 1 to {selectors.NEXT_RUNS_MAX}")
        try:
            start_at = None if start is None else selectors.next_runs_start_parse(start)
        except ValueError as exc:
            raise _usage_error(f"--from: {exc}") from None
        preview = selectors.job_next_runs(job_id=job_id, start=start_at, count=count)
        if preview is None:
            raise _usage_error(f"Unknown job: {job_id}")
        self.stdout.write(f"{preview['job_id']}  {preview['schedule_words']}  ({preview['schedule']}, "
                          f"time zone {preview['time_zone']})  from {preview['from']}")
        if preview["reason"]:
            self.stdout.write(preview["reason"])
        for run in preview["runs"]:
            note = f"  {run['note']}" if run["note"] else ""
            self.stdout.write(f"{run['at']}  {run['abbreviation']:<6} UTC{run['utc_offset']}  {run['utc']}{note}")

    def handle_pause(self, *, job_id: str, reason: str, **options) -> None:
        try:
            result = services.job_schedule_pause(job_id=job_id, reason=reason, source="cli")
        except services.JobNotFound as exc:
            raise _usage_error(str(exc)) from None
        except ValidationError as exc:
            raise _usage_error(" ".join(exc.messages)) from None
        self.stdout.write(result.message)

    def handle_resume(self, *, job_id: str, **options) -> None:
        try:
            result = services.job_schedule_resume(job_id=job_id, source="cli")
        except services.JobNotFound as exc:
            raise _usage_error(str(exc)) from None
        self.stdout.write(result.message)
