"""Log API (admin-only): the list with filters, and the clean-up run. Views parse input, call one function, render."""

from __future__ import annotations

import logging

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from logs_app import selectors
from logs_app.api.serializers import LevelField, LogClearOutput, LogEntryOutput
from scheduler_app.registry import JOB_ID_PATTERN
from scheduler_app.selectors import run_refusal
from scheduler_app.services import Trigger, job_run
from scraping_app.api.fields import TeamIdField


class LogPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class LogEntryListApi(APIView):
    """GET /api/v1/logs/?level=&min_level=&job_id=&run_id=&team_id=&since=&until=&search=&page=&page_size="""

    permission_classes = [IsAdminUser]

    class FilterSerializer(serializers.Serializer):
        level = LevelField(required=False, help_text="Exactly this level.")
        min_level = LevelField(required=False, help_text="This level and above.")
        job_id = serializers.RegexField(JOB_ID_PATTERN, required=False)
        run_id = serializers.IntegerField(required=False, min_value=1)
        team_id = TeamIdField(required=False)
        since = serializers.DateTimeField(required=False)
        until = serializers.DateTimeField(required=False)
        search = serializers.CharField(required=False, max_length=200, trim_whitespace=True)

        def validate(self, attrs):
            if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
                raise serializers.ValidationError({"until": "must not be before since"})
            return attrs

    @extend_schema(parameters=[FilterSerializer], responses=LogEntryOutput(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params, context={"request": request})
        filters.is_valid(raise_exception=True)
        data = dict(filters.validated_data)
        if "min_level" in data:
            data["min_level"] = logging.getLevelName(data["min_level"])
        if "team_id" in data:
            data["team_id"] = data["team_id"].pk  # log lines keep the plain id: they outlive their team
        entries = selectors.log_entry_list(**data)
        paginator = LogPagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(LogEntryOutput(page, many=True).data)


class LogClearApi(APIView):
    """DELETE /api/v1/logs/clear[?older_than_days=N]: runs cleanup_old_logs_task behind its lock, synchronously.

    200 {"deleted": n, "run_id", "status", ...} for a run that started and ended; 409 while the clean-up lock is
    held; 503 when the lock service is unavailable (LOCK_FALLBACK=fail); 400 for a bad N.
    """

    permission_classes = [IsAdminUser]

    class InputSerializer(serializers.Serializer):
        older_than_days = serializers.IntegerField(required=False, min_value=0, max_value=36500)

    @extend_schema(parameters=[InputSerializer], responses={200: LogClearOutput})
    def delete(self, request):
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        run = job_run(job_id="cleanup_old_logs_task", trigger=Trigger.API, user=request.user,
                      params=dict(params.validated_data))
        refusal = run_refusal(run=run)
        if refusal is not None:
            return Response(refusal.as_dict(), status=refusal.http_status)
        return Response(LogClearOutput(run).data)
