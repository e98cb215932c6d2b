"""Job-search API views: each parses its input (the nested serializer), calls one service or selector, and
renders one output serializer. Lists are DRF generic views over a selector's queryset, so the paginator and the
OpenAPI document agree."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.http import Http404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from scheduler_app.api.fields import (
    StrictFilterSerializer,
    StrictFloatField,
    StrictIntegerField,
    StrictSerializer,
)
from scheduler_app.api.pagination import Pagination
from scheduler_app.api.renderers import SafeJSONRenderer
from scheduler_app.api.responses import refusal_response, run_headers
from scheduler_app.api.schema import REFUSAL_RESPONSES, RUN_HEADER_PARAMETERS
from scheduler_app.services import InvalidJobParams, OverlapPolicy, Trigger, job_run
from scraping_app import selectors, services, tracker
from scraping_app.api.csv_export import PostingCSVRenderer, csv_response
from scraping_app.api.fields import ID_MAX, TeamIdField
from scraping_app.api.filters import (
    FILTER_SCHEMA_EXACT,
    CommaListField,
    PostingFilterSerializer,
    choices_list,
    comma_list_of,
)
from scraping_app.api.pagination import PostingCursorPagination
from scraping_app.api.serializers import (
    ApplicationMoveSerializer,
    AutomationPreviewSerializer,
    AutomationRuleSerializer,
    ContactSerializer,
    FollowUpSerializer,
    FollowUpSnoozeSerializer,
    InterviewSerializer,
    JobApplicationDetailSerializer,
    JobApplicationSerializer,
    PostingDetailSerializer,
    PostingSerializer,
    SavedSearchSerializer,
    ScrapeResultSerializer,
    TeamSerializer,
)
from scraping_app.api.throttles import ScrapeRateThrottle
from scraping_app.models import JobApplication
from scraping_app.selectors import FOLLOW_UP_STATUSES
from scraping_app.services.applications import EXTERNAL_FIELDS
from scraping_app.services.scrape import KEYWORD_MAX_LENGTH, LOCATION_MAX_LENGTH


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A record like this already exists (an application per posting and team)."
    # Also: a team at SAVED_SEARCHES_PER_TEAM_MAX saved searches (the body names the cap).
    default_code = "conflict"


KEYWORD_REQUIRED = "This field is required unless team_id names a team with active saved searches."


class JobScrapeApi(APIView):
    """Run `scrape_jobs_task` now, synchronously, behind its execution lock: GET with a query string, or POST
    with a JSON body."""

    throttle_scope = "scrape"

    def get_throttles(self):
        return [*super().get_throttles(), ScrapeRateThrottle()]

    @extend_schema_serializer(component_name="ScrapeInput")
    class InputSerializer(StrictSerializer):
        ignored = {"format"}

        keyword = serializers.CharField(required=False, max_length=KEYWORD_MAX_LENGTH)
        location = serializers.CharField(required=False, allow_blank=True, max_length=LOCATION_MAX_LENGTH)
        limit = serializers.IntegerField(required=False, default=25, min_value=1, max_value=100)
        team_id = TeamIdField(required=False)
        wait = StrictFloatField(required=False, min_value=0, max_value=600,
                                help_text="Seconds to wait for the lock (0: fail fast with 409).")
        overlap = serializers.ChoiceField(choices=OverlapPolicy.choices, required=False,
                                          help_text="What this scrape does while one runs (default: the job's "
                                                    "overlap_policy); a queued scrape answers once it has run.")

        def validate(self, attrs: dict) -> dict:
            team = attrs.get("team_id")
            if not attrs.get("keyword") and not (team and selectors.saved_searches_active(team=team).exists()):
                raise serializers.ValidationError({"keyword": [KEYWORD_REQUIRED]})
            return attrs

    @extend_schema(parameters=[InputSerializer, *RUN_HEADER_PARAMETERS],
                   responses={200: ScrapeResultSerializer, **REFUSAL_RESPONSES})
    def get(self, request):
        return self._scrape(request, request.query_params)

    @extend_schema(request=InputSerializer, parameters=RUN_HEADER_PARAMETERS,
                   responses={200: ScrapeResultSerializer, **REFUSAL_RESPONSES})
    def post(self, request):
        return self._scrape(request, request.data)

    def _scrape(self, request, data) -> Response:
        serializer = self.InputSerializer(data=data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        params = {"limit": values["limit"]}
        params.update({name: values[name] for name in ("keyword", "location") if values.get(name)})
        try:
            run = job_run(job_id="scrape_jobs_task", trigger=Trigger.API, user=request.user,
                          team=values.get("team_id"), wait_seconds=values.get("wait"),
                          overlap=values.get("overlap"), params=params)
        except InvalidJobParams as exc:
            return Response({"detail": str(exc), **{k: [v] for k, v in exc.errors.items()}},
                            status=status.HTTP_400_BAD_REQUEST)
        refused = refusal_response(run=run, request=request)
        if refused is not None:
            return refused
        return Response(ScrapeResultSerializer(run).data, headers=run_headers(run))


class PostingListApi(generics.ListAPIView):
    """Stored postings: full-text search (`q`, the websearch language), filters, sorts, keyset pages; CSV with
    `?format=csv` or `Accept: text/csv`, streamed."""

    serializer_class = PostingSerializer
    pagination_class = PostingCursorPagination
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, PostingCSVRenderer]

    FilterSerializer = PostingFilterSerializer

    @extend_schema(parameters=[FilterSerializer, *FILTER_SCHEMA_EXACT])
    def get(self, request, *args, **kwargs):
        if request.accepted_renderer.format == PostingCSVRenderer.format:
            postings = self.get_queryset()
            return csv_response(selectors.postings_iterate(queryset=postings, key=self.sort_key, filters=self.filters))
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = self.FilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        values = filters.validated_data
        text = values.get("q", values.get("keyword"))
        self.sort_key = selectors.postings_sort_key(sort=values.get("sort"), text=text)
        self.filters = values  # a tiered sort reads each tier with them (selectors.postings_page)
        return selectors.postings_search(**values)

    def finalize_response(self, request, response, *args, **kwargs):
        # An error answers JSON even when CSV was asked for.
        if getattr(request, "accepted_renderer", None) is not None and isinstance(response, Response) and (
                request.accepted_renderer.format == PostingCSVRenderer.format):
            request.accepted_renderer, request.accepted_media_type = SafeJSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


class PostingDetailApi(generics.RetrieveAPIView):
    serializer_class = PostingDetailSerializer

    def get_object(self):
        posting = selectors.posting_get(posting_id=self.kwargs["pk"])
        if posting is None:
            raise Http404
        return posting


class TeamListApi(generics.ListAPIView):
    serializer_class = TeamSerializer
    pagination_class = None  # a user has a handful of teams

    def get_queryset(self):
        return selectors.teams_for_user(user=self.request.user)


class _TeamRecordApi:
    """Shared by saved searches, applications and automation rules: records of the caller's teams (staff: all).
    Each view's queryset, create and update are its domain's selector and services."""

    unique_rules = True  # a write may meet a unique rule: 409 (the OpenAPI document says so)
    record_select = staticmethod(lambda *, user, team=None: None)
    record_create = staticmethod(lambda *, data: None)
    record_update = staticmethod(lambda instance, data: None)

    def get_queryset(self):
        return self.record_select(user=self.request.user)


class _TeamRecordListApi(_TeamRecordApi, generics.ListCreateAPIView):
    pagination_class = Pagination

    class FilterSerializer(StrictFilterSerializer):
        team_id = TeamIdField(required=False)

    def get_queryset(self):
        filters = self.FilterSerializer(data=self.request.query_params, context={"request": self.request})
        filters.is_valid(raise_exception=True)
        return self.record_select(user=self.request.user, team=filters.validated_data.get("team_id"))

    def perform_create(self, serializer) -> None:
        try:
            with transaction.atomic():  # a savepoint: a unique-rule failure leaves the request's transaction usable
                serializer.instance = self.record_create(data=serializer.validated_data)
        except IntegrityError:  # a unique rule (one application per posting and team): the record exists
            raise Conflict() from None
        except services.SavedSearchCapReached as exc:
            raise Conflict(exc.message_dict) from None


class _TeamRecordDetailApi(_TeamRecordApi, generics.RetrieveUpdateDestroyAPIView):
    def perform_update(self, serializer) -> None:
        try:
            with transaction.atomic():
                serializer.instance = self.record_update(serializer.instance, serializer.validated_data)
        except IntegrityError:
            raise Conflict() from None
        except services.SavedSearchCapReached as exc:
            raise Conflict(exc.message_dict) from None

    def perform_destroy(self, instance) -> None:
        services.team_record_delete(instance=instance)


class _SavedSearches:
    serializer_class = SavedSearchSerializer
    record_select = staticmethod(selectors.saved_searches_for_user)
    record_create = staticmethod(services.saved_search_create)
    record_update = staticmethod(lambda instance, data: services.saved_search_update(saved_search=instance, data=data))


class _Applications:
    serializer_class = JobApplicationSerializer
    record_select = staticmethod(selectors.job_applications_for_user)


class _AutomationRules:
    serializer_class = AutomationRuleSerializer
    record_select = staticmethod(selectors.automation_rules_for_user)
    record_create = staticmethod(services.automation_rule_create)
    record_update = staticmethod(lambda instance, data: services.automation_rule_update(rule=instance, data=data))


class SavedSearchListApi(_SavedSearches, _TeamRecordListApi):
    pass


class SavedSearchDetailApi(_SavedSearches, _TeamRecordDetailApi):
    pass


_MOVE_REFUSED = OpenApiResponse(description="The application's stage refuses the move (backward, or out of a final "
                                            "stage; the body names the allowed moves), or the change (its team and "
                                            "posting are fixed; a posting's application has no external job).")

# Exactly one kind of job: a posting, or one found elsewhere (external_title; external_url and external_company
# go only with it). The serializer's own document, and that rule.
_APPLICATION_CREATE_BODY = {
    "allOf": [{"$ref": "#/components/schemas/JobApplicationRequest"}],
    "oneOf": [
        {"required": ["posting"], "properties": {"posting": {"type": "integer"}},
         "not": {"anyOf": [{"required": [name]} for name in EXTERNAL_FIELDS]}},
        {"required": ["external_title"],
         "not": {"required": ["posting"], "properties": {"posting": {"type": "integer"}}}},  # absent or null
    ],
}


class JobApplicationListApi(_Applications, _TeamRecordListApi):
    """Your teams' applications (staff: all), newest first; `status` is a comma list of stages. A new one is for a
    `posting`, or for a job found elsewhere (`external_title`, with `external_url` and `external_company`)."""

    class FilterSerializer(StrictFilterSerializer):
        team_id = TeamIdField(required=False)
        status = CommaListField(required=False, parse=choices_list(tracker.STAGES),
                                help_text=f"Any of (comma list): {', '.join(tracker.STAGES)}.")

    @extend_schema(parameters=[FilterSerializer, OpenApiParameter(
        "status", {"type": "string", "pattern": comma_list_of(tracker.STAGES)},
        description=f"Any of (comma list): {', '.join(tracker.STAGES)}.")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request={"application/json": _APPLICATION_CREATE_BODY},
                   responses={201: JobApplicationSerializer})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def get_queryset(self):
        filters = self.FilterSerializer(data=self.request.query_params, context={"request": self.request})
        filters.is_valid(raise_exception=True)
        values = filters.validated_data
        return selectors.job_applications_for_user(user=self.request.user, team=values.get("team_id"),
                                                   statuses=values.get("status"))

    def perform_create(self, serializer) -> None:
        try:
            with transaction.atomic():  # a savepoint: the unique rule's failure leaves the request usable
                serializer.instance = services.application_create(**serializer.validated_data,
                                                                  user=self.request.user)
        except IntegrityError:  # one application per posting and team: it exists
            raise Conflict() from None


class JobApplicationDetailApi(_Applications, _TeamRecordDetailApi):
    """One application with its history, contacts and interviews. A `status` in PUT or PATCH is a move (as POST
    …/move): a move the stage does not allow is a 409 naming the allowed ones. The stage timestamps are the
    moves'; the team and the posting are fixed."""

    serializer_class = JobApplicationDetailSerializer

    def get_queryset(self):
        return selectors.job_application_details_for_user(user=self.request.user)

    @extend_schema(responses={200: JobApplicationDetailSerializer, 409: _MOVE_REFUSED})
    def put(self, request, *args, **kwargs):
        return super().put(request, *args, **kwargs)

    @extend_schema(responses={200: JobApplicationDetailSerializer, 409: _MOVE_REFUSED})
    def patch(self, request, *args, **kwargs):
        return super().patch(request, *args, **kwargs)

    def perform_update(self, serializer) -> None:
        try:
            serializer.instance = services.application_update(application=serializer.instance,
                                                              data=serializer.validated_data, user=self.request.user)
        except services.ApplicationRefused as exc:
            raise Conflict(exc.message_dict) from None


def _application_or_404(request, pk) -> JobApplication:
    application = selectors.job_application_for_user(user=request.user, application_id=int(pk))
    if application is None:
        raise Http404
    return application


class JobApplicationMoveApi(APIView):
    """Move an application to another stage, with an optional note kept in its history. Allowed: shortlisted ->
    applied, rejected, withdrawn; applied -> interviewing, offer, rejected, withdrawn; interviewing -> offer,
    rejected, withdrawn; offer -> rejected, withdrawn; rejected and withdrawn are final. The stage it is in
    already is no move (200, nothing written); any other is a 409 naming the allowed moves."""

    @extend_schema(request=ApplicationMoveSerializer, responses={200: JobApplicationDetailSerializer,
                                                                 409: _MOVE_REFUSED})
    def post(self, request, pk: str):
        application = _application_or_404(request, pk)  # another team's application is a 404 whatever the body
        body = ApplicationMoveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            application = services.application_move(application=application, to_status=body.validated_data["status"],
                                                    note=body.validated_data["note"], user=request.user)
        except services.ApplicationRefused as exc:
            raise Conflict(exc.message_dict) from None
        return Response(JobApplicationDetailSerializer(application).data)


class _ApplicationChildren:
    """An application's contacts or interviews: the application must be one of the caller's teams' (else 404)."""

    child_select = staticmethod(lambda *, application: None)
    child_create = staticmethod(lambda *, application, data: None)
    child_update = staticmethod(lambda instance, data: None)
    child_delete = staticmethod(lambda instance: None)

    def application(self) -> JobApplication:
        if not hasattr(self, "_application"):
            self._application = _application_or_404(self.request, self.kwargs["pk"])
        return self._application


class _ApplicationChildListApi(_ApplicationChildren, generics.ListCreateAPIView):
    pagination_class = Pagination

    class FilterSerializer(StrictFilterSerializer):
        pass

    def get_queryset(self):
        self.FilterSerializer(data=self.request.query_params).is_valid(raise_exception=True)
        return self.child_select(application=self.application())

    def create(self, request, *args, **kwargs):
        self.application()  # another team's application is a 404 whatever the body says
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer) -> None:
        serializer.instance = self.child_create(application=self.application(), data=serializer.validated_data)


class _ApplicationChildDetailApi(_ApplicationChildren, generics.RetrieveUpdateDestroyAPIView):
    http_method_names = ["get", "patch", "delete", "head", "options"]
    child_kwarg = ""

    def get_object(self):
        child = self.child_select(application=self.application()).filter(pk=int(self.kwargs[self.child_kwarg]))
        if (found := child.first()) is None:
            raise Http404
        return found

    def perform_update(self, serializer) -> None:
        serializer.instance = self.child_update(serializer.instance, serializer.validated_data)

    def perform_destroy(self, instance) -> None:
        self.child_delete(instance)


class _Contacts:
    serializer_class = ContactSerializer
    child_select = staticmethod(selectors.application_contacts)
    child_create = staticmethod(services.contact_create)
    child_update = staticmethod(lambda instance, data: services.contact_update(contact=instance, data=data))
    child_delete = staticmethod(lambda instance: services.contact_delete(contact=instance))
    child_kwarg = "contact_id"


class _Interviews:
    serializer_class = InterviewSerializer
    child_select = staticmethod(selectors.application_interviews)
    child_create = staticmethod(services.interview_create)
    child_update = staticmethod(lambda instance, data: services.interview_update(interview=instance, data=data))
    child_delete = staticmethod(lambda instance: services.interview_delete(interview=instance))
    child_kwarg = "interview_id"


_CONTACT_ID = OpenApiParameter("contact_id", str, OpenApiParameter.PATH, pattern=r"^[0-9]{1,18}$")
_INTERVIEW_ID = OpenApiParameter("interview_id", str, OpenApiParameter.PATH, pattern=r"^[0-9]{1,18}$")


class ApplicationContactListApi(_Contacts, _ApplicationChildListApi):
    """An application's contacts (people at the hiring company), oldest first."""


@extend_schema(parameters=[_CONTACT_ID])
class ApplicationContactDetailApi(_Contacts, _ApplicationChildDetailApi):
    """One contact of an application: read, PATCH or DELETE it."""


class ApplicationInterviewListApi(_Interviews, _ApplicationChildListApi):
    """An application's interviews, the soonest first."""


@extend_schema(parameters=[_INTERVIEW_ID])
class ApplicationInterviewDetailApi(_Interviews, _ApplicationChildDetailApi):
    """One interview of an application (`scheduled_at`, `kind`, `notes`): read, PATCH or DELETE it."""


class AutomationRuleListApi(_AutomationRules, _TeamRecordListApi):
    pass


class AutomationRuleDetailApi(_AutomationRules, _TeamRecordDetailApi):
    pass


class AutomationRulePreviewApi(APIView):
    """What the rule's next run would do, without writing anything: how many postings it would match and
    shortlist, whether AUTOMATION_FIRST_RUN_CAP would cut a first run, and the first matches (newest first). It
    reads the plan the run itself uses."""

    class FilterSerializer(StrictSerializer):
        ignored = {"format"}

        limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100,
                                         help_text="How many of the matches to list (default 20).")

    @extend_schema(parameters=[FilterSerializer], responses={200: AutomationPreviewSerializer})
    def get(self, request, pk: str):
        rule = selectors.automation_rules_for_user(user=request.user).filter(pk=int(pk)).first()
        if rule is None:
            raise Http404
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        preview = selectors.automation_rule_preview(rule=rule, limit=filters.validated_data["limit"])
        return Response(AutomationPreviewSerializer(preview).data)


class FollowUpListApi(generics.ListAPIView):
    """Your teams' follow-ups (staff: all), the soonest due first."""

    serializer_class = FollowUpSerializer
    pagination_class = Pagination

    class FilterSerializer(StrictFilterSerializer):
        status = serializers.ChoiceField(
            required=False, choices=FOLLOW_UP_STATUSES,
            help_text="due: not done, due_at has come; upcoming: not done, due later (snoozed); done.")
        team_id = TeamIdField(required=False)
        application = StrictIntegerField(required=False, min_value=1, max_value=ID_MAX,
                                         help_text="One application's follow-ups (not one of yours: none).")

    @extend_schema(parameters=[FilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = self.FilterSerializer(data=self.request.query_params, context={"request": self.request})
        filters.is_valid(raise_exception=True)
        values = filters.validated_data
        return selectors.follow_ups_for_user(user=self.request.user, team=values.get("team_id"),
                                             application_id=values.get("application"), status=values.get("status"))


_FOLLOW_UP_REFUSED = OpenApiResponse(description="A done follow-up cannot be snoozed, or its application already "
                                                 "has a follow-up due at that time.")


# Exactly one of days and until, no other field: the two fields' own schemas, and oneOf a required one.
_SNOOZE_BODY = {
    "type": "object",
    "properties": {
        "days": {"type": "integer", "minimum": 1, "maximum": services.SNOOZE_DAYS_MAX,
                 "description": "Due this many days from now."},
        "until": {"type": "string", "format": "date-time",
                  "description": "Due at this time (in the future); a bare date is its midnight UTC."},
    },
    "oneOf": [{"required": ["days"]}, {"required": ["until"]}],
    "additionalProperties": False,
}


def _follow_up_or_404(request, pk: str):
    follow_up = selectors.follow_up_for_user(user=request.user, follow_up_id=int(pk))
    if follow_up is None:
        raise Http404
    return follow_up


class FollowUpDoneApi(APIView):
    """Mark a follow-up done: no reminder is sent after this. A second call keeps the first time (200)."""

    @extend_schema(request=None, responses={200: FollowUpSerializer})
    def post(self, request, pk: str):
        follow_up = services.follow_up_done(follow_up=_follow_up_or_404(request, pk), user=request.user)
        return Response(FollowUpSerializer(follow_up).data)


class FollowUpSnoozeApi(APIView):
    """Move a follow-up's due date: `days` from now (1-365) or `until` a future time, exactly one. Its reminder is
    sent again, once, at the new date. A done follow-up is a 409, and so is a date its application's other
    follow-up has."""

    @extend_schema(request={"application/json": _SNOOZE_BODY}, responses={200: FollowUpSerializer,
                                                                         409: _FOLLOW_UP_REFUSED})
    def post(self, request, pk: str):
        follow_up = _follow_up_or_404(request, pk)  # another team's follow-up is a 404 whatever the body says
        body = FollowUpSnoozeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            follow_up = services.follow_up_snooze(follow_up=follow_up, **body.validated_data)
        except services.FollowUpRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(FollowUpSerializer(follow_up).data)
