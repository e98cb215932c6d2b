"""The scheduler API's output shapes (its strict input field types are in scheduler_app.api.fields)."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scheduler_app import selectors
from scheduler_app.models import JobDefinition, JobRun
from scheduler_app.selectors.refusals import holder_visible
from scheduler_app.teams import team_id_field_class

# Team ids are validated by the domain's field (SCHEDULER_TEAM_ID_FIELD): strict integers naming a team the user
# may use; an invalid or unknown one is 400 "Unknown team.", as everywhere.
TeamIdField = team_id_field_class()


# What only staff see of a run (the rest of a run is its team's to read).
STAFF_ONLY_RUN_FIELDS = ("fencing_token", "host", "pid")


class JobRunOutput(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    host = serializers.CharField(allow_null=True, help_text="Staff only (null for others).")
    pid = serializers.IntegerField(allow_null=True, help_text="Staff only (null for others).")
    fencing_token = serializers.IntegerField(allow_null=True, help_text="Staff only (null for others).")
    user = serializers.SerializerMethodField()
    heartbeat_age_seconds = serializers.SerializerMethodField(
        help_text="A RUNNING run's heartbeat age (written every lease/3; a lease old means its holder is dead).")
    overlap_note = serializers.SerializerMethodField(
        help_text='What the overlap policy did: "queued behind run #M", "replaced by run #N", queue full.')

    class Meta:
        model = JobRun
        fields = ["id", "url", "job_id", "lock_key", "trigger", "status", "skip_reason", "user", "team", "params",
                  "scheduled_for", "created_at", "started_at", "finished_at", "duration_ms", "lock_wait_ms",
                  "start_lateness_ms", "timeout_seconds", "lock_backend", "fencing_token", "host", "pid",
                  "heartbeat_at", "heartbeat_age_seconds", "progress", "cancel_requested_at", "cancel_requested_by",
                  "blocked_by", "overlap_note", "error", "traceback", "warnings", "result"]

    def to_representation(self, run: JobRun) -> dict:
        """Staff see every field. Others (who see only their own and their teams' runs) do not see where a run
        ran or how to reach its lock (host, pid, fencing token, the refusing holder's token), nor the params and
        traceback of a run they did not trigger themselves unless a non-staff team mate did (staff's and the
        schedule's runs keep theirs)."""
        data = super().to_representation(run)
        request = self.context.get("request")
        if request is None or request.user.is_staff:
            return data
        for name in STAFF_ONLY_RUN_FIELDS:
            data[name] = None
        if data.get("blocked_by"):
            data["blocked_by"] = {**data["blocked_by"],
                                  "holder": holder_visible(data["blocked_by"].get("holder"), staff=False)}
        if run.user_id is None or run.user.is_staff:
            data["params"] = None
            data["traceback"] = ""
        return data

    def get_url(self, run: JobRun) -> str:

        path = reverse("scheduler-run-detail", args=[run.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_heartbeat_age_seconds(self, run: JobRun) -> float | None:
        if run.status != JobRun.Status.RUNNING or run.heartbeat_at is None:
            return None
        return round((timezone.now() - run.heartbeat_at).total_seconds(), 1)

    def get_overlap_note(self, run: JobRun) -> str:
        return selectors.run_overlap_note(run=run)

    def get_user(self, run: JobRun) -> str | None:
        return run.user.get_username() if run.user_id else None


class TimeoutAdviceOutput(serializers.Serializer):
    runs = serializers.IntegerField(help_text="Successful runs sampled (the last 100 at most).")
    p95_seconds = serializers.FloatField(allow_null=True)
    advised_minutes = serializers.FloatField(allow_null=True, help_text="p95 x 1.5.")
    warning = serializers.CharField(help_text="Set when the timeout is below the p95 or over 10 x above it.")


class JobDefinitionOutput(serializers.ModelSerializer):
    timeout_advice = serializers.SerializerMethodField()

    class Meta:
        model = JobDefinition
        fields = ["job_id", "name", "trigger_type", "cron", "interval_seconds", "time_zone", "timeout_minutes",
                  "enabled", "lock_scope", "wait_seconds", "overlap_policy", "catch_up_policy",
                  "catch_up_window_seconds", "jitter_seconds", "paused_at", "paused_by", "pause_reason", "updated_at",
                  "timeout_advice"]
        read_only_fields = fields

    @extend_schema_field(TimeoutAdviceOutput)
    def get_timeout_advice(self, definition: JobDefinition) -> dict:
        advice = selectors.timeout_advice(timeouts={definition.job_id: definition.timeout_minutes})
        return advice[definition.job_id].as_dict()


class SchedulePauseOutput(serializers.Serializer):
    """A job's pause state after a pause or resume (services.ScheduleChange)."""

    job_id = serializers.CharField(source="definition.job_id")
    paused = serializers.SerializerMethodField()
    paused_at = serializers.DateTimeField(source="definition.paused_at", allow_null=True)
    paused_by = serializers.SerializerMethodField(help_text="Null when not paused.")
    pause_reason = serializers.SerializerMethodField(help_text="Null when not paused.")
    pause_text = serializers.SerializerMethodField(help_text='"paused by X since T: reason", or null.')
    changed = serializers.BooleanField(help_text="False when the schedule already was as asked (nothing changed).")
    detail = serializers.CharField(source="message")

    def get_paused(self, change) -> bool:
        return change.definition.paused_at is not None

    def get_paused_by(self, change) -> str | None:
        return change.definition.paused_by if change.definition.paused_at is not None else None

    def get_pause_reason(self, change) -> str | None:
        return change.definition.pause_reason if change.definition.paused_at is not None else None

    def get_pause_text(self, change) -> str | None:
        definition = change.definition
        return selectors.pause_text(paused_by=definition.paused_by, paused_at=definition.paused_at,
                                    reason=definition.pause_reason) or None


class NextRunOutput(serializers.Serializer):
    at = serializers.CharField(help_text="ISO 8601 in the job's time zone, with its offset.")
    utc = serializers.CharField(help_text="The same instant in UTC.")
    local = serializers.CharField(help_text="The wall-clock time in the job's zone (YYYY-MM-DD HH:MM:SS).")
    utc_offset = serializers.CharField(help_text="+HH:MM or -HH:MM.")
    abbreviation = serializers.CharField(help_text="The zone's abbreviation then (CET, CEST, EST, ...).")
    note = serializers.CharField(help_text="Set at or near a daylight-saving transition, else empty.")


class NextRunsOutput(serializers.Serializer):
    job_id = serializers.CharField()
    time_zone = serializers.CharField(help_text="The zone the schedule runs in (the job's own, or TIME_ZONE).")
    schedule = serializers.CharField()
    schedule_words = serializers.CharField()
    count = serializers.IntegerField()
    runs = NextRunOutput(many=True)
    reason = serializers.CharField(allow_null=True, help_text="Why `runs` is empty (on demand, disabled), else null.")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField(help_text="The start instant, ISO 8601 in the job's zone.")
        return fields
