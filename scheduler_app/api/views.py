"""Scheduler API views: parse the input, call one service or selector, render. No Redis or APScheduler here."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from scheduler_app import registry, selectors, services
from scheduler_app.api.fields import (
    DateTimeTextField,
    JobIdField,
    StrictBooleanField,
    StrictCharField,
    StrictFilterSerializer,
    StrictFloatField,
    StrictIntegerField,
    StrictSerializer,
)
from scheduler_app.api.permissions import IsStaff
from scheduler_app.api.responses import refusal_response, run_headers
from scheduler_app.api.schema import REFUSAL_RESPONSES, RUN_HEADER_PARAMETERS
from scheduler_app.api.serializers import (
    JobDefinitionOutput,
    JobRunOutput,
    NextRunsOutput,
    SchedulePauseOutput,
    TeamIdField,
)
from scheduler_app.models import (
    INTERVAL_SECONDS_MAX,
    JITTER_SECONDS_MAX,
    TIMEOUT_MINUTES_MAX,
    WAIT_SECONDS_MAX,
    JobDefinition,
    JobRun,
)
from scheduler_app.registry import JOB_ID_PATTERN_JS

_any = inline_serializer("SchedulerAny", fields={"detail": serializers.CharField(required=False)})
_UNKNOWN_JOB = OpenApiResponse(_any, description="No registered job has this id.")
_JOB_ID_PARAMETER = OpenApiParameter("job_id", str, OpenApiParameter.PATH, pattern=JOB_ID_PATTERN_JS,
                                     description="A registered job's id.")


def _job_id_from_path(job_id: str) -> str:
    """A job id from the URL: malformed is 400 (bad input), well-formed but unknown is the caller's 404."""
    try:
        return JobIdField().run_validation(job_id)
    except serializers.ValidationError as exc:
        raise ValidationError({"job_id": exc.detail}) from None


def _parse(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class SchedulerStatusView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(responses=_any, summary="Scheduler status: is it running; each job's next run, lock, last run")
    def get(self, request):
        return Response(selectors.scheduler_status())


class SchedulerRestartView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(request=None, responses={202: _any}, summary="Reload the job definitions in every scheduler")
    def post(self, request):
        result = services.scheduler_reload_request()
        return Response({"detail": "Scheduler reload requested", **result}, status=status.HTTP_202_ACCEPTED)


class SchedulerJobView(APIView):
    permission_classes = [IsStaff]

    @extend_schema_serializer(component_name="JobTriggerInput")
    class InputSerializer(StrictSerializer):
        job_id = JobIdField()
        team_id = TeamIdField(required=False, allow_null=True)
        wait_seconds = StrictFloatField(required=False, allow_null=True, min_value=0, max_value=WAIT_SECONDS_MAX)
        overlap = serializers.ChoiceField(choices=JobDefinition.OverlapPolicy.choices, required=False,
                                          help_text="What this trigger does while the job runs (default: the job's "
                                                    "overlap_policy).")
        params = serializers.DictField(required=False, default=dict,
                                       help_text="The job's parameters, checked by the job's own validator.")

    @extend_schema(request=InputSerializer, responses={202: _any, 404: _UNKNOWN_JOB, **REFUSAL_RESPONSES},
                   parameters=RUN_HEADER_PARAMETERS, summary="Run a job now, in the background, behind its lock")
    def post(self, request):
        data = _parse(self.InputSerializer, request.data)
        try:
            run = services.job_run(job_id=data["job_id"], trigger=JobRun.Trigger.API, user=request.user,
                                   team=data.get("team_id"), wait_seconds=data.get("wait_seconds"),
                                   overlap=data.get("overlap"), params=data.get("params"), background=True)
        except registry.JobNotFound as exc:
            raise NotFound(str(exc)) from None
        except registry.InvalidJobParams as exc:
            raise ValidationError({"params": exc.errors or [str(exc)]}) from None
        refused = refusal_response(run=run, request=request)
        if refused is not None:
            return refused
        url = request.build_absolute_uri(reverse("scheduler-run-detail", args=[run.pk]))
        body = {"run_id": run.pk, "job_id": run.job_id, "status": run.status, "lock_key": run.lock_key, "url": url}
        note = selectors.run_overlap_note(run=run)
        if note:
            body["detail"] = note  # e.g. "queued behind run #12"
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": url, **run_headers(run)})


class RunListView(generics.ListAPIView):
    serializer_class = JobRunOutput

    class FilterSerializer(StrictFilterSerializer):
        job_id = JobIdField(required=False)
        status = serializers.ChoiceField(choices=JobRun.Status.choices, required=False)
        trigger = serializers.ChoiceField(choices=JobRun.Trigger.choices, required=False)
        team_id = TeamIdField(required=False)

    @extend_schema(parameters=[FilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = _parse(self.FilterSerializer, self.request.query_params)
        if "team_id" in filters:
            filters["team"] = filters.pop("team_id")
        return selectors.job_runs_list(user=self.request.user, **filters)


class RunDetailView(generics.RetrieveAPIView):
    serializer_class = JobRunOutput

    def get_queryset(self):
        return selectors.job_runs_visible(user=self.request.user)


class RunCancelView(APIView):
    """POST /api/v1/scheduler/runs/<id>/cancel: a queued run ends CANCELLED at once; a running one is asked to stop
    at its next ctx.check() (202). 409 for a run that has already ended."""

    permission_classes = [IsStaff]

    @extend_schema(request=None, responses={202: _any, 404: _any, 409: _any},
                   summary="Cancel a run (it stops at its next ctx.check() and ends CANCELLED)")
    def post(self, request, pk: str):
        try:
            result = services.job_run_cancel(run_id=int(pk), user=request.user, source="api")
        except services.RunNotFound as exc:
            raise NotFound(str(exc)) from None
        body = {"run_id": result.run.pk, "job_id": result.run.job_id, "status": result.run.status,
                "outcome": result.outcome, "detail": result.message}
        return Response(body, status=status.HTTP_202_ACCEPTED if result.accepted else status.HTTP_409_CONFLICT,
                        headers=run_headers(result.run))


class LockListView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(responses=_any, summary="Every held lock with holder, TTL, stale and stuck flags")
    def get(self, request):
        return Response({"locks": selectors.lock_state_dicts()})


class LockDetailView(APIView):
    permission_classes = [IsStaff]

    class FilterSerializer(StrictFilterSerializer):
        team_id = TeamIdField(required=False)

    @extend_schema(parameters=[FilterSerializer, _JOB_ID_PARAMETER], responses={200: _any},
                   summary="Force-release a job's lock (an operator's decision)")
    def delete(self, request, job_id: str):
        _job_id_from_path(job_id)
        team = _parse(self.FilterSerializer, request.query_params).get("team_id")
        try:
            registry.get(job_id)
        except registry.JobNotFound as exc:
            raise NotFound(str(exc)) from None
        key = job_id if team is None else f"{job_id}:team:{team.pk}"
        return Response(services.lock_clear(key=key, user=request.user, source="api").as_dict())


class LockCleanupView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(request=None, responses=_any, summary="Clear stale locks only (a live holder's lock stays)")
    def post(self, request):
        cleared = services.locks_clear_stale(user=request.user, source="api")
        return Response({"cleared": [{**state.as_dict(), "stale_reason": state.extra.get("stale_reason")}
                                     for state in cleared]})


class JobDefinitionDetailView(APIView):
    """A job's schedule and policy: the same fields the admin edits (timeout, schedule, enabled, scope, wait,
    overlap policy)."""

    permission_classes = [IsStaff]

    @extend_schema_serializer(component_name="JobDefinitionInput")
    class InputSerializer(StrictSerializer):
        """PATCH body for a job definition: every field optional; the model's own validation runs after."""

        name = StrictCharField(max_length=200, required=False)
        trigger_type = serializers.ChoiceField(choices=["cron", "interval"], required=False)
        cron = StrictCharField(max_length=100, required=False, allow_blank=True)
        interval_seconds = StrictIntegerField(min_value=1, max_value=INTERVAL_SECONDS_MAX, required=False,
                                              allow_null=True)
        timeout_minutes = StrictFloatField(min_value=0.01, max_value=TIMEOUT_MINUTES_MAX, required=False)
        enabled = StrictBooleanField(required=False)
        lock_scope = serializers.ChoiceField(choices=["job", "team"], required=False)
        wait_seconds = StrictFloatField(min_value=0, max_value=WAIT_SECONDS_MAX, required=False)
        time_zone = StrictCharField(max_length=64, required=False, allow_blank=True,
                                    help_text="IANA time zone of the cron schedule (blank: TIME_ZONE).")
        overlap_policy = serializers.ChoiceField(choices=JobDefinition.OverlapPolicy.choices, required=False)
        catch_up_policy = serializers.ChoiceField(choices=JobDefinition.CatchUpPolicy.values, required=False)
        catch_up_window_seconds = StrictIntegerField(min_value=1, max_value=INTERVAL_SECONDS_MAX, required=False,
                                                     allow_null=True)
        jitter_seconds = StrictIntegerField(min_value=0, max_value=JITTER_SECONDS_MAX, required=False)

    def _definition(self, job_id: str) -> JobDefinition:
        definition = selectors.job_definition_get(job_id=_job_id_from_path(job_id))
        if definition is None:
            raise NotFound(f"Unknown job: {job_id}")
        return definition

    @extend_schema(parameters=[_JOB_ID_PARAMETER], responses={200: JobDefinitionOutput}, summary="A job definition")
    def get(self, request, job_id: str):
        return Response(JobDefinitionOutput(self._definition(job_id)).data)

    @extend_schema(parameters=[_JOB_ID_PARAMETER], request=InputSerializer, responses={200: JobDefinitionOutput},
                   summary="Edit a job definition (schedulers reload)")
    def patch(self, request, job_id: str):
        definition = self._definition(job_id)
        data = _parse(self.InputSerializer, request.data)
        try:
            definition = services.job_definition_update(definition=definition, data=data)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        return Response(JobDefinitionOutput(definition).data)


class SchedulePauseView(APIView):
    """POST /api/v1/scheduler/jobs/<job_id>/pause {"reason"}: no slot fires or is recorded until it is resumed;
    manual triggers still run. 200 with the pause state (also when it already was paused: `changed` false)."""

    permission_classes = [IsStaff]

    @extend_schema_serializer(component_name="SchedulePauseInput")
    class InputSerializer(StrictSerializer):
        reason = StrictCharField(max_length=services.PAUSE_REASON_MAX, help_text="Why (required).")

    @extend_schema(parameters=[_JOB_ID_PARAMETER], request=InputSerializer,
                   responses={200: SchedulePauseOutput, 404: _UNKNOWN_JOB},
                   summary="Pause a job's schedule (manual triggers still run)")
    def post(self, request, job_id: str):
        job_id = _job_id_from_path(job_id)
        data = _parse(self.InputSerializer, request.data)
        try:
            result = services.job_schedule_pause(job_id=job_id, reason=data["reason"], user=request.user,
                                                 source="api")
        except services.JobNotFound as exc:
            raise NotFound(str(exc)) from None
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        return Response(SchedulePauseOutput(result).data)


class ScheduleResumeView(APIView):
    """POST /api/v1/scheduler/jobs/<job_id>/resume: it fires from its next slot after now; the slots skipped while
    paused are not run. 200 with the pause state (also when it was not paused: `changed` false)."""

    permission_classes = [IsStaff]

    @extend_schema_serializer(component_name="ScheduleResumeInput")
    class InputSerializer(StrictSerializer):
        pass

    @extend_schema(parameters=[_JOB_ID_PARAMETER], request=InputSerializer,
                   responses={200: SchedulePauseOutput, 404: _UNKNOWN_JOB}, summary="Resume a job's schedule")
    def post(self, request, job_id: str):
        job_id = _job_id_from_path(job_id)
        _parse(self.InputSerializer, request.data)
        try:
            result = services.job_schedule_resume(job_id=job_id, user=request.user, source="api")
        except services.JobNotFound as exc:
            raise NotFound(str(exc)) from None
        return Response(SchedulePauseOutput(result).data)


class JobNextRunsView(APIView):
    """GET /api/v1/scheduler/jobs/<job_id>/next-runs?from=&count=: the job's next fire times, with offsets and
    daylight-saving notes (the preview `manage.py schedule preview` prints)."""

    permission_classes = [IsStaff]  # as the job definition it previews

    class FilterSerializer(StrictSerializer):
        ignored = frozenset({"format"})
        count = StrictIntegerField(min_value=1, max_value=selectors.NEXT_RUNS_MAX, required=False, default=10)

        def get_fields(self):
            fields = super().get_fields()  # "from" is a Python keyword: no class attribute can name it
            fields["from"] = DateTimeTextField(required=False, help_text="ISO 8601 start instant; without an offset, "
                                             "in the job's time zone. Default: now.")
            return fields

        def validate(self, attrs):
            if "from" in attrs:
                try:
                    attrs["from"] = selectors.next_runs_start_parse(attrs["from"])
                except ValueError as exc:
                    raise serializers.ValidationError({"from": [str(exc)]}) from None
            return attrs

    @extend_schema(parameters=[FilterSerializer, _JOB_ID_PARAMETER], responses={200: NextRunsOutput, 404: _UNKNOWN_JOB},
                   summary="A job's next fire times, with their UTC offsets and daylight-saving notes")
    def get(self, request, job_id: str):
        job_id = _job_id_from_path(job_id)
        query = _parse(self.FilterSerializer, request.query_params)
        preview = selectors.job_next_runs(job_id=job_id, start=query.get("from"), count=query["count"])
        if preview is None:
            raise NotFound(f"Unknown job: {job_id}")
        return Response(preview)
