"""manage.py schedule pause JOB_ID --reason "..." | resume JOB_ID"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from scheduler_app import services


class Command(BaseCommand):
    help = "Act on a job's schedule: pause it (no slot fires or is recorded; manual triggers still run), resume it."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)

        pause = sub.add_parser("pause", help="Pause a job's schedule, saying why.")
        pause.add_argument("job_id")
        pause.add_argument("--reason", required=True, help="Why (shown in the status; at most 500 characters).")

        resume = sub.add_parser("resume", help="Resume a paused schedule from its next slot after now.")
        resume.add_argument("job_id")

    def handle(self, *args, action: str, **options):
        handler = {"pause": self._pause, "resume": self._resume}[action]
        try:
            result = handler(**options)
        except services.JobNotFound as exc:
            raise CommandError(str(exc), returncode=2) from None
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages), returncode=2) from None
        self.stdout.write(result.message)

    def _pause(self, *, job_id: str, reason: str, **_options) -> services.ScheduleChange:
        return services.job_schedule_pause(job_id=job_id, reason=reason, source="cli")

    def _resume(self, *, job_id: str, **_options) -> services.ScheduleChange:
        return services.job_schedule_resume(job_id=job_id, source="cli")
