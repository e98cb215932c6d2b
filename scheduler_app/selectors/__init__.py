"""Scheduler reads. The API, the admin, the CLI and the operations views (/healthz, /metrics) show the same facts
from these functions; other apps read the scheduler only through them."""

from scheduler_app.selectors.job_health import (
    JobHealth,
    job_health_list,
    scheduler_last_heartbeat,
)
from scheduler_app.selectors.job_state import (
    FAILURE,
    SUCCESS,
    dead_after_seconds,
    pause_text,
    silent_after_seconds,
    state_text,
)
from scheduler_app.selectors.locks import (
    database_lock_leftover_q,
    database_locks_leftover,
    lock_service_ping,
    lock_service_report,
    lock_state_dicts,
    lock_states,
)
from scheduler_app.selectors.next_runs import (
    NEXT_RUNS_MAX,
    definition_next_runs,
    job_next_runs,
    next_runs_start_parse,
)
from scheduler_app.selectors.refusals import (
    Refusal,
    lease_ago,
    run_not_recorded_refusal,
    run_overlap_note,
    run_refusal,
)
from scheduler_app.selectors.run_metrics import (
    DURATION_BUCKETS,
    LATENESS_BUCKETS,
    WAIT_BUCKETS,
    MetricKey,
    run_metric_aggregates,
)
from scheduler_app.selectors.runs import (
    job_definition_admin_id,
    job_definition_get,
    job_definitions_version,
    job_run_get,
    job_runs_list,
    job_runs_running_since,
    job_runs_visible,
    scheduled_slot_fires,
    scheduled_slot_has_run,
    scheduled_slots_run,
)
from scheduler_app.selectors.status import (
    job_runs_recent_per_job,
    scheduler_dashboard,
    scheduler_heartbeat_age,
    scheduler_instances_alive,
    scheduler_status,
)
from scheduler_app.selectors.timeline import (
    TIMELINE_PER_JOB,
    job_console,
    job_next_fire_times,
    job_runs_timeline,
)
from scheduler_app.selectors.timeout_advice import TimeoutAdvice, timeout_advice

__all__ = [
    "FAILURE",
    "NEXT_RUNS_MAX",
    "SUCCESS",
    "TIMELINE_PER_JOB",
    "database_lock_leftover_q",
    "dead_after_seconds",
    "database_locks_leftover",
    "job_console",
    "job_next_runs",
    "next_runs_start_parse",
    "definition_next_runs",
    "job_next_fire_times",
    "pause_text",
    "job_runs_timeline",
    "silent_after_seconds",
    "state_text",
    "DURATION_BUCKETS",
    "JobHealth",
    "LATENESS_BUCKETS",
    "MetricKey",
    "Refusal",
    "WAIT_BUCKETS",
    "job_definition_admin_id",
    "job_definition_get",
    "job_definitions_version",
    "job_health_list",
    "job_run_get",
    "job_runs_list",
    "job_runs_recent_per_job",
    "job_runs_running_since",
    "job_runs_visible",
    "lease_ago",
    "lock_service_ping",
    "lock_service_report",
    "lock_state_dicts",
    "lock_states",
    "run_metric_aggregates",
    "run_not_recorded_refusal",
    "run_overlap_note",
    "run_refusal",
    "scheduled_slot_fires",
    "scheduled_slot_has_run",
    "scheduled_slots_run",
    "scheduler_dashboard",
    "scheduler_heartbeat_age",
    "scheduler_last_heartbeat",
    "scheduler_instances_alive",
    "scheduler_status",
    "timeout_advice",
    "TimeoutAdvice",
]
