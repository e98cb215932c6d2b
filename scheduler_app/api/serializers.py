"""The strict field types the views' nested input serializers use (unknown fields and wrong types are 400, never 500),
and the output shapes."""

from __future__ import annotations

from django.http import QueryDict
from django.urls import reverse
from rest_framework import serializers

from scheduler_app.models import JobDefinition, JobRun
from scheduler_app.registry import job_id_validator
from scheduler_app.teams import team_id_field_class


def _typed_input(field) -> bool:
    """Whether the field's data came typed (a JSON body), not as text (a query string or a form)."""
    return getattr(field.parent, "typed_input", False)


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers, booleans and objects instead of turning them into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """An IntegerField that refuses booleans and fractions (JSON true is not team 1, 1.5 is not 1), and text in a
    JSON body ("1" is a string there; a query string has nothing but text)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, float) and not data.is_integer()):
            self.fail("invalid")
        if isinstance(data, str) and _typed_input(self):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, str) and _typed_input(self)):
            self.fail("invalid")
        return super().to_internal_value(data)


class JobIdField(StrictCharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=64, trim_whitespace=False, **kwargs)
        self.validators.append(job_id_validator)


class StrictSerializer(serializers.Serializer):
    """Unknown fields are an error, not silently ignored."""

    ignored: set[str] = set()

    def to_internal_value(self, data):

        self.typed_input = not isinstance(data, QueryDict)
        if hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields) - self.ignored)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


# Team ids are validated by the domain's field (SCHEDULER_TEAM_ID_FIELD): strict integers naming a team the user
# may use; an invalid or unknown one is 400 "Unknown team.", as everywhere.
TeamIdField = team_id_field_class()


class JobRunOutput(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    user = serializers.SerializerMethodField()

    class Meta:
        model = JobRun
        fields = ["id", "url", "job_id", "lock_key", "trigger", "status", "skip_reason", "user", "team", "params",
                  "scheduled_for", "created_at", "started_at", "finished_at", "duration_ms", "lock_wait_ms",
                  "timeout_seconds", "lock_backend", "fencing_token", "host", "pid", "heartbeat_at", "blocked_by",
                  "error", "traceback", "warnings", "result"]

    def get_url(self, run: JobRun) -> str:

        path = reverse("scheduler-run-detail", args=[run.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_user(self, run: JobRun) -> str | None:
        return run.user.get_username() if run.user_id else None


class JobDefinitionOutput(serializers.ModelSerializer):
    class Meta:
        model = JobDefinition
        fields = ["job_id", "name", "trigger_type", "cron", "interval_seconds", "timeout_minutes", "enabled",
                  "lock_scope", "wait_seconds", "updated_at"]
        read_only_fields = fields
