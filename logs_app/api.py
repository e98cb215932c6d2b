"""Log API (admin-only): list with filters, and the clean-up run. Views parse input, call one function, render."""

from __future__ import annotations

import logging

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from logs_app import selectors
from logs_app.models import LogEntry

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class LevelField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=LEVELS, **kwargs)

    def to_internal_value(self, data):
        return super().to_internal_value(str(data).upper())


class LogPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class LogEntryListApi(APIView):
    """GET /api/v1/logs/?level=&min_level=&job_id=&run_id=&team_id=&since=&until=&search=&page=&page_size="""

    permission_classes = [IsAdminUser]

    class FilterSerializer(serializers.Serializer):
        level = LevelField(required=False, help_text="Exactly this level.")
        min_level = LevelField(required=False, help_text="This level and above.")
        job_id = serializers.RegexField(r"^[a-z0-9_]{1,64}$", required=False)
        run_id = serializers.IntegerField(required=False, min_value=1)
        team_id = serializers.IntegerField(required=False, min_value=1)
        since = serializers.DateTimeField(required=False)
        until = serializers.DateTimeField(required=False)
        search = serializers.CharField(required=False, max_length=200, trim_whitespace=True)

        def validate_team_id(self, value: int) -> int:
            from scraping_app.models import Team

            if not Team.objects.filter(pk=value).exists():
                raise serializers.ValidationError("Unknown team.")
            return value

        def validate(self, attrs):
            if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
                raise serializers.ValidationError({"until": "must not be before since"})
            return attrs

    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = LogEntry
            fields = ["id", "timestamp", "level", "logger", "message", "job_id", "run_id", "team_id", "extra"]

    @extend_schema(parameters=[FilterSerializer], responses=OutputSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = dict(filters.validated_data)
        if "min_level" in data:
            data["min_level"] = logging.getLevelName(data["min_level"])
        entries = selectors.log_entry_list(**data)
        paginator = LogPagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class LogClearApi(APIView):
    """DELETE /api/v1/logs/clear[?older_than_days=N]: runs cleanup_old_logs_task behind its lock, synchronously.

    200 {"deleted": n, "run_id", "status", ...} for a run that started and ended; 409 while the clean-up lock is
    held; 503 when the lock service is unavailable (LOCK_FALLBACK=fail); 400 for a bad N.
    """

    permission_classes = [IsAdminUser]

    class InputSerializer(serializers.Serializer):
        older_than_days = serializers.IntegerField(required=False, min_value=0, max_value=36500)

    @extend_schema(parameters=[InputSerializer], responses={200: inline_serializer("LogClearResult", {
        "deleted": serializers.IntegerField(allow_null=True), "run_id": serializers.IntegerField(),
        "status": serializers.CharField(), "older_than_days": serializers.IntegerField(allow_null=True),
        "runs_deleted": serializers.IntegerField(allow_null=True), "duration_ms": serializers.FloatField()})})
    def delete(self, request):
        from scheduler_app.api.refusals import refusal_response
        from scheduler_app.models import JobRun
        from scheduler_app.services import job_run

        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        run = job_run(job_id="cleanup_old_logs_task", trigger=JobRun.Trigger.API, user=request.user,
                      params=dict(params.validated_data))
        refused = refusal_response(run)
        if refused is not None:
            return refused
        result = run.result if isinstance(run.result, dict) else {}
        body = {
            "deleted": result.get("deleted"),
            "run_id": run.pk,
            "status": run.status,
            "older_than_days": result.get("older_than_days"),
            "runs_deleted": result.get("runs_deleted"),
            "duration_ms": run.duration_ms,
        }
        if run.error:
            body["error"] = run.error
        return Response(body, status=status.HTTP_200_OK)
