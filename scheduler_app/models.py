from apscheduler.triggers.cron import CronTrigger
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from scheduler_app import registry
from scheduler_app.zones import zone_get

# The ranges a definition may hold, for the admin, the API and the scheduler alike: beyond them timedelta (and so
# APScheduler) overflows, and a run longer than a day is a batch job, not a locked job.
INTERVAL_SECONDS_MAX = 366 * 24 * 3600
TIMEOUT_MINUTES_MAX = 24 * 60
WAIT_SECONDS_MAX = 600
JITTER_SECONDS_MAX = 3600


class JobDefinition(models.Model):
    """A job's schedule and policy. Seeded from the decorator once; after that, the admin/API edits win."""

    class TriggerType(models.TextChoices):
        CRON = "cron", "cron"
        INTERVAL = "interval", "interval"

    class LockScope(models.TextChoices):
        JOB = "job", "per job"
        TEAM = "team", "per team"

    class OverlapPolicy(models.TextChoices):
        SKIP = "skip", "skip"
        WAIT = "wait", "wait"
        QUEUE_ONE = "queue_one", "queue one"
        REPLACE = "replace", "replace"

    class CatchUpPolicy(models.TextChoices):
        LATEST = "latest", "latest missed slot"
        NONE = "none", "none"
        ALL_WITHIN = "all_within", "all within a window"

    job_id = models.CharField(max_length=64, unique=True, validators=[registry.job_id_validator])
    name = models.CharField(max_length=200)
    trigger_type = models.CharField(max_length=10, choices=TriggerType.choices, default=TriggerType.CRON)
    cron = models.CharField(max_length=100, blank=True, help_text="Five-field crontab, in TIME_ZONE.")
    interval_seconds = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(INTERVAL_SECONDS_MAX)]
    )
    timeout_minutes = models.FloatField(validators=[MinValueValidator(0.01), MaxValueValidator(TIMEOUT_MINUTES_MAX)])
    enabled = models.BooleanField(default=True)
    lock_scope = models.CharField(max_length=10, choices=LockScope.choices, default=LockScope.JOB)
    wait_seconds = models.FloatField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(WAIT_SECONDS_MAX)],
        help_text="0 fails fast; more waits that long for the lock.",
    )
    overlap_policy = models.CharField(
        max_length=10, choices=OverlapPolicy.choices, default=OverlapPolicy.SKIP,
        help_text="What a trigger does while a run holds the lock: skip it (SKIPPED), wait wait_seconds, queue one "
                  "run to start when the current one ends, or replace the running run.",
    )
    time_zone = models.CharField(max_length=64, blank=True, help_text="IANA time zone of the cron schedule "
                                 "(blank: TIME_ZONE).")
    jitter_seconds = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(JITTER_SECONDS_MAX)],
        help_text="Each scheduled start is delayed by a random 0..N s; the slot stays the scheduled time.",
    )
    catch_up_policy = models.CharField(
        max_length=10, choices=CatchUpPolicy.choices, default=CatchUpPolicy.LATEST,
        help_text="After downtime: run once for the latest missed slot, run nothing, or run each missed slot of "
                  "the last catch_up_window_seconds.",
    )
    catch_up_window_seconds = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(INTERVAL_SECONDS_MAX)],
        help_text="For all_within: how far back missed slots are run.",
    )
    paused_at = models.DateTimeField(null=True, blank=True, help_text="Set while the schedule is paused.")
    paused_by = models.CharField(max_length=150, blank=True)
    pause_reason = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["job_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.job_id})"

    def clean(self) -> None:
        """A definition must name a registered job and carry a schedule its trigger type can use."""


        errors = {}
        if self.job_id and self.job_id not in {spec.job_id for spec in registry.all_specs()}:
            errors["job_id"] = "No registered job has this id."
        if self.trigger_type == self.TriggerType.CRON and self.cron:

            try:
                CronTrigger.from_crontab(self.cron)
            except ValueError as exc:
                errors["cron"] = f"Not a valid five-field crontab: {exc}"
        if self.time_zone:
            try:
                zone_get(self.time_zone)
            except ValueError as exc:
                errors["time_zone"] = str(exc)
        if self.trigger_type == self.TriggerType.INTERVAL and not self.interval_seconds:
            errors["interval_seconds"] = "An interval trigger needs interval_seconds (1 or more)."
        if errors:
            raise ValidationError(errors)


class JobRun(models.Model):
    """One trigger of one job. Every trigger leaves a row, blocked ones too (SKIPPED)."""

    class Status(models.TextChoices):
        QUEUED = "QUEUED"
        RUNNING = "RUNNING"
        SUCCEEDED = "SUCCEEDED"
        PARTIAL = "PARTIAL"
        FAILED = "FAILED"
        TIMED_OUT = "TIMED_OUT"
        LOST_LOCK = "LOST_LOCK"
        ABANDONED = "ABANDONED"
        CANCELLED = "CANCELLED"
        SKIPPED = "SKIPPED"
        MISSED = "MISSED"

    class Trigger(models.TextChoices):
        SCHEDULED = "scheduled"
        API = "api"
        ADMIN = "admin"
        CLI = "cli"
        DIRECT = "direct"

    class SkipReason(models.TextChoices):
        LOCK_HELD = "lock_held", "lock held"
        LOCK_UNAVAILABLE = "lock_unavailable", "lock service unavailable"
        MISFIRE = "misfire", "misfired"
        MAX_INSTANCES = "max_instances", "max instances reached"
        DUPLICATE_SLOT = "duplicate_slot", "slot already run"
        COALESCED = "coalesced", "coalesced into a later run"
        QUEUE_FULL = "queue_full", "a run is already queued"
        REPLACED = "replaced", "replaced by a newer run"

    FINISHED = (
        Status.SUCCEEDED,
        Status.PARTIAL,
        Status.FAILED,
        Status.TIMED_OUT,
        Status.LOST_LOCK,
        Status.ABANDONED,
        Status.CANCELLED,
        Status.SKIPPED,
        Status.MISSED,
    )

    # job_id is indexed by the (job_id, status) and (job_id, id) composites; lock_key lookups are for RUNNING
    # runs, which the partial unique index serves.
    job_id = models.CharField(max_length=64)
    lock_key = models.CharField(max_length=128)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    skip_reason = models.CharField(max_length=20, choices=SkipReason.choices, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    team = models.ForeignKey("scraping_app.Team", null=True, blank=True, on_delete=models.SET_NULL)
    params = models.JSONField(default=dict, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True, help_text="The schedule slot, for scheduled runs.")

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    lock_wait_ms = models.FloatField(null=True, blank=True)
    start_lateness_ms = models.FloatField(null=True, blank=True, help_text="Scheduled runs: how long after its slot "
                                          "the run started (lock wait included).")
    timeout_seconds = models.FloatField(null=True, blank=True)

    lock_backend = models.CharField(max_length=10, blank=True)
    lock_token = models.CharField(max_length=64, blank=True)
    fencing_token = models.BigIntegerField(null=True, blank=True, help_text="Drawn from the runs' id sequence when "
                                           "the run starts: greater than every earlier holder's.")
    host = models.CharField(max_length=255, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    blocked_by = models.JSONField(null=True, blank=True, help_text="The holder that refused this trigger.")
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    warnings = models.JSONField(default=list, blank=True)
    result = models.JSONField(null=True, blank=True)
    progress = models.JSONField(null=True, blank=True, help_text="What ctx.progress() last reported, per task: "
                                "{task: {done, total}}; written with the heartbeat.")
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_by = models.CharField(max_length=150, blank=True, help_text="The operator who asked.")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["job_id", "status"]),
            models.Index(fields=["job_id", "id"], name="jobrun_job_latest"),  # last run per job (status page)
        ]
        constraints = [
            # Invariant 1 enforced by the database itself: one RUNNING run per lock key, whichever lock backend
            # (Redis or the database lease) admitted it.
            models.UniqueConstraint(
                fields=["lock_key"], condition=Q(status="RUNNING"), name="one_running_run_per_lock_key"
            ),
            # One scheduled run per (job, slot), however many schedulers fire it.
            models.UniqueConstraint(
                fields=["lock_key", "scheduled_for"],
                condition=Q(trigger="scheduled") & ~Q(status__in=["SKIPPED", "MISSED"]),
                name="one_scheduled_run_per_slot",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} #{self.pk} {self.status}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class DatabaseLock(models.Model):
    """The fallback lease, taken by compare-and-swap when Redis is unreachable. It issues no fence: the run's
    fencing token comes from the database when the run starts."""

    key = models.CharField(max_length=128, unique=True)
    token = models.CharField(max_length=64, blank=True)
    holder = models.JSONField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.key


class SchedulerInstance(models.Model):
    """A live `runscheduler` process; counts as running while its heartbeat is fresh."""

    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField(db_index=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-heartbeat_at"]
        constraints = [models.UniqueConstraint(fields=["host", "pid", "started_at"], name="unique_scheduler_instance")]

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"


class OperatorAction(models.Model):
    """What an operator did to a run or a lock, from the admin, the API or the CLI: who, when, what, the outcome.

    user is kept as a name too: the record outlives the account. run_id is a plain number: the record outlives
    the run's history."""

    class Action(models.TextChoices):
        CANCEL_RUN = "cancel_run", "cancel run"
        CLEAR_LOCK = "clear_lock", "clear lock"
        CLEAR_STALE_LOCKS = "clear_stale_locks", "clear stale locks"
        CLEAN_DATABASE_LOCKS = "clean_database_locks", "clean database locks"
        PAUSE_SCHEDULE = "pause_schedule", "pause schedule"
        RESUME_SCHEDULE = "resume_schedule", "resume schedule"

    class Source(models.TextChoices):
        ADMIN = "admin"
        API = "api"
        CLI = "cli"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    username = models.CharField(max_length=150, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    action = models.CharField(max_length=24, choices=Action.choices)
    job_id = models.CharField(max_length=64, blank=True)
    run_id = models.BigIntegerField(null=True, blank=True)
    outcome = models.TextField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username or '?'} {self.action} {self.job_id}: {self.outcome[:60]}"
