"""Scheduler writes. `job_run` is the ONE path that the API, the admin, runjob and the scheduler call.

Other apps use these names only: `job_run`, its errors (`InvalidJobParams`, `InvalidOverlap`, `JobNotFound`,
`RunNotRecorded`), `Trigger`, the trigger names it takes, and `OverlapPolicy`, the overlap values it takes.
"""

from scheduler_app.definitions import job_definitions_sync
from scheduler_app.models import JobDefinition, JobRun
from scheduler_app.overlap import InvalidOverlap
from scheduler_app.registry import InvalidJobParams, JobNotFound
from scheduler_app.runs import RunNotRecorded
from scheduler_app.services.definitions import job_definition_update
from scheduler_app.services.job_runs import (
    job_run,
    job_run_record_not_started,
    job_runs_cancel_active,
    run_history_delete_before,
)
from scheduler_app.services.lock_actions import (
    LockClear,
    database_locks_cleanup,
    job_locks_clear,
    lock_clear,
    lock_force_release,
    lock_holders_live,
    locks_clear_stale,
    reaper_run,
)
from scheduler_app.services.operator_actions import operator_action_record
from scheduler_app.services.run_actions import RunCancel, RunNotFound, job_run_cancel
from scheduler_app.services.schedule_actions import (
    PAUSE_REASON_MAX,
    ScheduleChange,
    job_schedule_pause,
    job_schedule_resume,
)
from scheduler_app.services.scheduler_instances import (
    scheduler_instance_beat,
    scheduler_instance_start,
    scheduler_instance_stop,
    scheduler_reload_request,
)

Trigger = JobRun.Trigger
OverlapPolicy = JobDefinition.OverlapPolicy  # the `overlap` values job_run takes

__all__ = [
    "InvalidJobParams", "InvalidOverlap", "JobNotFound", "LockClear", "OverlapPolicy",
    "RunCancel", "RunNotFound", "RunNotRecorded", "ScheduleChange", "Trigger",
    "database_locks_cleanup", "job_definition_update", "job_definitions_sync", "job_locks_clear", "job_run",
    "job_run_cancel", "job_run_record_not_started", "job_runs_cancel_active", "lock_clear", "lock_force_release",
    "lock_holders_live", "locks_clear_stale", "operator_action_record", "reaper_run", "run_history_delete_before",
    "scheduler_instance_beat",
    "scheduler_instance_start", "scheduler_instance_stop", "scheduler_reload_request",
    "PAUSE_REASON_MAX", "job_schedule_pause", "job_schedule_resume",
]
