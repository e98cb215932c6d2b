"""Log API (admin-only): the list with filters, and the clean-up run. Views parse input, call one function, render."""

from __future__ import annotations

import logging

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from logs_app import selectors, services
from logs_app.api.serializers import LevelField, LogClearOutput, LogEntryOutput
from scheduler_app.api.fields import JobIdField, StrictFilterSerializer, StrictIntegerField, StrictSerializer
from scheduler_app.api.pagination import Pagination
from scheduler_app.api.responses import refusal_response, run_headers
from scheduler_app.api.schema import REFUSAL_RESPONSES, RUN_HEADER_PARAMETERS
from scheduler_app.services import Trigger, job_run
from scraping_app.api.fields import ID_MAX, LenientDateTimeField, TeamIdField


class LogEntryListApi(generics.ListAPIView):
    """GET /api/v1/logs/?level=&min_level=&job_id=&run_id=&team_id=&since=&until=&search=&page=&page_size="""

    permission_classes = [IsAdminUser]
    serializer_class = LogEntryOutput
    pagination_class = Pagination

    class FilterSerializer(StrictFilterSerializer):
        level = LevelField(required=False, help_text="Exactly this level.")
        min_level = LevelField(required=False, help_text="This level and above.")
        job_id = JobIdField(required=False)
        run_id = StrictIntegerField(required=False, min_value=1, max_value=ID_MAX)
        team_id = TeamIdField(required=False)
        since = LenientDateTimeField(required=False)
        until = LenientDateTimeField(required=False)
        search = serializers.CharField(required=False, max_length=200, trim_whitespace=True)

        def validate(self, attrs):
            if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
                raise serializers.ValidationError({"until": "must not be before since"})
            return attrs

    @extend_schema(parameters=[FilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = self.FilterSerializer(data=self.request.query_params, context={"request": self.request})
        filters.is_valid(raise_exception=True)
        data = dict(filters.validated_data)
        if "min_level" in data:
            data["min_level"] = logging.getLevelName(data["min_level"])
        if "team_id" in data:
            data["team_id"] = data["team_id"].pk  # log lines keep the plain id: they outlive their team
        return selectors.log_entry_list(**data)


class LogClearApi(APIView):
    """DELETE /api/v1/logs/clear[?older_than_days=N]: runs cleanup_old_logs_task behind its lock, synchronously.

    200 {"deleted": n, "run_id", "status", ...} for a run that started and ended; 409 while the clean-up lock is
    held; 503 when the lock service is unavailable (LOCK_FALLBACK=fail); 400 for a bad N.
    """

    permission_classes = [IsAdminUser]

    class InputSerializer(StrictSerializer):
        ignored = {"format"}

        older_than_days = StrictIntegerField(required=False, min_value=0, max_value=services.RETENTION_DAYS_MAX,
                                             help_text="Delete entries older than this many days (default "
                                                       "LOG_RETENTION_DAYS).")

    @extend_schema(parameters=[InputSerializer, *RUN_HEADER_PARAMETERS],
                   responses={200: LogClearOutput, **REFUSAL_RESPONSES})
    def delete(self, request):
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        run = job_run(job_id="cleanup_old_logs_task", trigger=Trigger.API, user=request.user,
                      params=dict(params.validated_data))
        refused = refusal_response(run=run, request=request)
        if refused is not None:
            return refused
        return Response(LogClearOutput(run).data, headers=run_headers(run))
