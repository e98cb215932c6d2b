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
    StrictBooleanField,
    StrictCharField,
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
from scraping_app import selectors, services
from scraping_app.api.csv_export import PostingCSVRenderer, csv_response
from scraping_app.api.fields import ID_MAX, LenientDateTimeField, TeamIdField
from scraping_app.api.pagination import PostingCursorPagination
from scraping_app.api.serializers import (
    AutomationPreviewSerializer,
    AutomationRuleSerializer,
    FollowUpSerializer,
    FollowUpSnoozeSerializer,
    JobApplicationSerializer,
    PostingDetailSerializer,
    PostingSerializer,
    SavedSearchSerializer,
    ScrapeResultSerializer,
    TeamSerializer,
)
from scraping_app.api.throttles import ScrapeRateThrottle
from scraping_app.normalize import EMPLOYMENT_TYPES, SENIORITIES, employment_type_normalize
from scraping_app.selectors import FOLLOW_UP_STATUSES, SORTS
from scraping_app.services.scrape import KEYWORD_MAX_LENGTH, LOCATION_MAX_LENGTH

SEARCH_MAX_LENGTH = 500
HOURS_MAX = 24 * 365 * 10


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


def _choices_list(choices: tuple[str, ...], *, normalize=None):
    """A comma list of `choices` (as a query string gives it); `normalize` maps other spellings first."""

    def parse(value: str) -> list[str]:
        items = [item.strip() for item in value.split(",") if item.strip()]
        if not items:
            raise serializers.ValidationError("Name at least one value.")
        parsed = [normalize(item) if normalize else item.lower() for item in items]
        unknown = [item for item, value in zip(items, parsed, strict=True) if value not in choices]
        if unknown:
            raise serializers.ValidationError(f"Unknown value(s): {', '.join(unknown)}. Use {', '.join(choices)}.")
        return sorted(set(parsed))

    return parse


class CommaListField(StrictCharField):
    """A comma-separated list in one query parameter ("tags=python,django")."""

    def __init__(self, *, parse, **kwargs):
        self.parse = parse
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        return self.parse(super().to_internal_value(data))


def _tags(value: str) -> list[str]:
    tags = sorted({tag.strip().lower() for tag in value.split(",") if tag.strip()})
    if not tags or len(tags) > 20 or any(len(tag) > 100 for tag in tags):
        raise serializers.ValidationError("Name 1 to 20 tags of up to 100 characters, separated by commas.")
    return tags


def _comma_list_of(values) -> str:
    """The pattern of a comma list of `values`."""
    one = "(?:" + "|".join(values) + ")"
    return rf"^\s*{one}(?:\s*,\s*{one})*\s*$"


# What the filter fields check that their derived schema does not say: the comma lists' vocabularies (the boards'
# own spellings of an employment type are accepted too) and a salary of at least 0.
_FILTER_SCHEMA_EXACT = [
    OpenApiParameter("employment_type", {"type": "string", "pattern": _comma_list_of(EMPLOYMENT_TYPES)},
                     description=f"Any of (comma list): {', '.join(EMPLOYMENT_TYPES)}."),
    OpenApiParameter("seniority", {"type": "string", "pattern": _comma_list_of(SENIORITIES)},
                     description=f"Any of (comma list): {', '.join(SENIORITIES)}."),
    OpenApiParameter("salary_min", {"type": "string", "format": "decimal",
                                    "pattern": r"^(?:\d{1,12}(?:\.\d{0,2})?|\.\d{1,2})$"},
                     description="Annual, in SALARY_BASE_CURRENCY (default USD)."),
]


class PostingListApi(generics.ListAPIView):
    """Stored postings: full-text search (`q`, the websearch language), filters, sorts, keyset pages; CSV with
    `?format=csv` or `Accept: text/csv`, streamed."""

    serializer_class = PostingSerializer
    pagination_class = PostingCursorPagination
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, PostingCSVRenderer]

    class FilterSerializer(StrictFilterSerializer):
        ignored = {"format", "page_size", "cursor"}  # no `page`: pages go by cursor (a `page` is a 400)

        q = StrictCharField(required=False, max_length=SEARCH_MAX_LENGTH, trim_whitespace=False,
                            help_text='Words (all must match), "a phrase", a OR b, -excluded.')
        keyword = StrictCharField(required=False, max_length=KEYWORD_MAX_LENGTH, help_text="The older name of q.")
        location = StrictCharField(required=False, max_length=LOCATION_MAX_LENGTH,
                                   help_text='Part of the location, any case; "remote" means remote postings.')
        remote = serializers.BooleanField(required=False, allow_null=True, default=None)
        source = StrictCharField(required=False, max_length=100, help_text="A source's id, kind or name.")
        posted_after = LenientDateTimeField(required=False)
        posted_within_hours = serializers.IntegerField(required=False, min_value=1, max_value=HOURS_MAX)
        hours_old = serializers.IntegerField(required=False, min_value=1, max_value=HOURS_MAX,
                                             help_text="The same as posted_within_hours (JobSpy's name).")
        employment_type = CommaListField(
            required=False, parse=_choices_list(EMPLOYMENT_TYPES, normalize=lambda v: employment_type_normalize(
                value=v)), help_text=f"Any of (comma list): {', '.join(EMPLOYMENT_TYPES)}.")
        salary_min = serializers.DecimalField(required=False, max_digits=14, decimal_places=2, min_value=0,
                                              help_text="Annual, in SALARY_BASE_CURRENCY (default USD).")
        seniority = CommaListField(required=False, parse=_choices_list(SENIORITIES),
                                   help_text=f"Any of (comma list): {', '.join(SENIORITIES)}.")
        company = StrictCharField(required=False, max_length=200, help_text="Case-insensitive prefix.")
        tags = CommaListField(required=False, parse=_tags, help_text="Any of (comma list), any case.")
        duplicates = StrictBooleanField(required=False, default=False,
                                        help_text="true: every board's copy of a job; default: one posting per job.")
        sort = serializers.ChoiceField(required=False, choices=SORTS,
                                       help_text="relevance (the default with q), recent (the default without), "
                                                 "salary (annual maximum, highest first).")

        def validate(self, attrs: dict) -> dict:
            # The older names may come with the new ones (each is valid alone): both apply, together.
            if "keyword" in attrs:
                keyword = attrs.pop("keyword")
                attrs["q"] = f"{keyword} {attrs['q']}" if "q" in attrs else keyword
            if "hours_old" in attrs:
                hours = attrs.pop("hours_old")
                attrs["posted_within_hours"] = min(hours, attrs.get("posted_within_hours", hours))
            return attrs

    @extend_schema(parameters=[FilterSerializer, *_FILTER_SCHEMA_EXACT])
    def get(self, request, *args, **kwargs):
        if request.accepted_renderer.format == PostingCSVRenderer.format:
            postings = self.get_queryset()
            return csv_response(selectors.postings_iterate(queryset=postings, key=self.sort_key))
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = self.FilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        values = filters.validated_data
        text = values.get("q", values.get("keyword"))
        self.sort_key = selectors.postings_sort_key(sort=values.get("sort"), text=text)
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
    record_create = staticmethod(services.job_application_create)
    record_update = staticmethod(lambda instance, data: services.job_application_update(application=instance,
                                                                                        data=data))


class _AutomationRules:
    serializer_class = AutomationRuleSerializer
    record_select = staticmethod(selectors.automation_rules_for_user)
    record_create = staticmethod(services.automation_rule_create)
    record_update = staticmethod(lambda instance, data: services.automation_rule_update(rule=instance, data=data))


class SavedSearchListApi(_SavedSearches, _TeamRecordListApi):
    pass


class SavedSearchDetailApi(_SavedSearches, _TeamRecordDetailApi):
    pass


class JobApplicationListApi(_Applications, _TeamRecordListApi):
    pass


class JobApplicationDetailApi(_Applications, _TeamRecordDetailApi):
    pass


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
