"""Log API fields and output shapes."""

from __future__ import annotations

from rest_framework import serializers

from logs_app.models import LogEntry

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class LevelField(serializers.ChoiceField):
    """A level name, in any case ("warning" is WARNING)."""

    def __init__(self, **kwargs):
        super().__init__(choices=LEVELS, **kwargs)

    def to_internal_value(self, data):
        return super().to_internal_value(str(data).upper())


class LogEntryOutput(serializers.ModelSerializer):
    class Meta:
        model = LogEntry
        fields = ["id", "timestamp", "level", "logger", "message", "job_id", "run_id", "team_id", "extra"]


class LogClearOutput(serializers.Serializer):
    """The clean-up run: how many log entries and runs went, and the run that did it."""

    deleted = serializers.IntegerField(allow_null=True)
    run_id = serializers.IntegerField()
    status = serializers.CharField()
    older_than_days = serializers.IntegerField(allow_null=True)
    runs_deleted = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.FloatField(allow_null=True)
    error = serializers.CharField(required=False)

    def to_representation(self, run) -> dict:
        result = run.result if isinstance(run.result, dict) else {}
        body = {"deleted": result.get("deleted"), "run_id": run.pk, "status": run.status,
                "older_than_days": result.get("older_than_days"), "runs_deleted": result.get("runs_deleted"),
                "duration_ms": run.duration_ms}
        if run.error:
            body["error"] = run.error
        return body
