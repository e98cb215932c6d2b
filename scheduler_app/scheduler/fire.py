"""What an APScheduler job calls: one scheduled trigger of one job, through the ONE path (`services.job_run`)."""

from __future__ import annotations

import logging
from datetime import datetime

from scheduler_app import services
from scheduler_app.db_work import thread_db_work
from scheduler_app.models import JobRun

logger = logging.getLogger("scheduler_app")


def job_fire(job_id: str, scheduled_for: datetime | None = None) -> int | None:
    """Run the job for its slot; the recorder refuses a slot that already has a run (another scheduler's)."""
    with thread_db_work():
        try:
            run = services.job_run(job_id=job_id, trigger=JobRun.Trigger.SCHEDULED, scheduled_for=scheduled_for)
            return run.pk
        except services.RunNotRecorded as exc:
            logger.error("Scheduled fire of job: %s for %s not recorded: %s", job_id, scheduled_for, exc)
            return None
        except Exception:  # noqa: BLE001 - a failed fire must never stop the scheduler loop
            logger.exception("Scheduled fire of job: %s failed", job_id)
            return None


job_fire.wants_slot = True  # type: ignore[attr-defined]  # the executor passes `scheduled_for`
