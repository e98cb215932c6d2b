"""Job-search API views: each parses its input (the nested serializer), calls one service or selector, and
renders one output serializer."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from scheduler_app.selectors import run_refusal
from scheduler_app.services import InvalidJobParams, Trigger, job_run
from scraping_app import selectors, services
from scraping_app.api.fields import LenientDateTimeField, TeamIdField
from scraping_app.api.serializers import (
    AutomationRuleSerializer,
    JobApplicationSerializer,
    PostingDetailSerializer,
    PostingSerializer,
    SavedSearchSerializer,
    ScrapeResultSerializer,
    TeamSerializer,
)
from scraping_app.api.throttles import ScrapeRateThrottle
from scraping_app.services.scrape import KEYWORD_MAX_LENGTH, LOCATION_MAX_LENGTH

KEYWORD_REQUIRED = "This field is required unless team_id names a team with active saved searches."


class Pagination(PageNumberPagination):
    """The project's page size (API_PAGE_SIZE), overridable per request with ?page_size= up to 100."""

    page_size_query_param = "page_size"
    max_page_size = 100


def _query_params_plain(query_params) -> dict:
    """A QueryDict as a plain dict (DRF treats a missing boolean in form input as False)."""
    return {key: query_params.get(key) for key in query_params}


class JobScrapeApi(APIView):
    """Run `scrape_jobs_task` now, synchronously, behind its execution lock (GET or POST)."""

    throttle_classes = [ScrapeRateThrottle]
    throttle_scope = "scrape"

    @extend_schema_serializer(component_name="ScrapeInput")
    class InputSerializer(serializers.Serializer):
        keyword = serializers.CharField(required=False, max_length=KEYWORD_MAX_LENGTH)
        location = serializers.CharField(required=False, allow_blank=True, max_length=LOCATION_MAX_LENGTH)
        limit = serializers.IntegerField(required=False, default=25, min_value=1, max_value=100)
        team_id = TeamIdField(required=False)
        wait = serializers.FloatField(required=False, min_value=0, max_value=600)

        def validate(self, attrs: dict) -> dict:
            team = attrs.get("team_id")
            if not attrs.get("keyword") and not (team and selectors.saved_searches_active(team=team).exists()):
                raise serializers.ValidationError({"keyword": [KEYWORD_REQUIRED]})
            return attrs

    @extend_schema(parameters=[InputSerializer], responses=ScrapeResultSerializer)
    def get(self, request):
        return self._scrape(request, _query_params_plain(request.query_params))

    @extend_schema(request=InputSerializer, responses=ScrapeResultSerializer)
    def post(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        return self._scrape(request, {**_query_params_plain(request.query_params), **body})

    def _scrape(self, request, data: dict) -> Response:
        serializer = self.InputSerializer(data=data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        params = {"limit": values["limit"]}
        params.update({name: values[name] for name in ("keyword", "location") if values.get(name)})
        try:
            run = job_run(job_id="scrape_jobs_task", trigger=Trigger.API, user=request.user,
                          team=values.get("team_id"), wait_seconds=values.get("wait"), params=params)
        except InvalidJobParams as exc:
            return Response({"detail": str(exc), **{k: [v] for k, v in exc.errors.items()}},
                            status=status.HTTP_400_BAD_REQUEST)
        refusal = run_refusal(run=run)
        if refusal is not None:
            return Response(refusal.as_dict(), status=refusal.http_status)
        return Response(ScrapeResultSerializer(run).data)


class PostingListApi(APIView):
    class FilterSerializer(serializers.Serializer):
        keyword = serializers.CharField(required=False, max_length=KEYWORD_MAX_LENGTH)
        location = serializers.CharField(required=False, max_length=LOCATION_MAX_LENGTH)
        remote = serializers.BooleanField(required=False, allow_null=True, default=None)
        source = serializers.CharField(required=False, max_length=100)
        posted_after = LenientDateTimeField(required=False)

    @extend_schema(parameters=[FilterSerializer], responses=PostingSerializer(many=True))
    def get(self, request):
        filters = self.FilterSerializer(data=_query_params_plain(request.query_params))
        filters.is_valid(raise_exception=True)
        postings = selectors.postings_list(**filters.validated_data)
        paginator = Pagination()
        page = paginator.paginate_queryset(postings, request, view=self)
        return paginator.get_paginated_response(PostingSerializer(page, many=True).data)


class PostingDetailApi(APIView):
    @extend_schema(responses=PostingDetailSerializer)
    def get(self, request, pk: int):
        posting = selectors.posting_get(posting_id=pk)
        if posting is None:
            raise Http404
        return Response(PostingDetailSerializer(posting).data)


class TeamListApi(APIView):
    @extend_schema(responses=TeamSerializer(many=True))
    def get(self, request):
        return Response(TeamSerializer(selectors.teams_for_user(user=request.user), many=True).data)


class _TeamRecordApi(APIView):
    """Shared by saved searches, applications and automation rules: records of the caller's teams (staff: all)."""

    serializer_class: type
    select = staticmethod(lambda *, user, team=None: None)
    create = staticmethod(lambda *, data: None)
    update = staticmethod(lambda instance, data: None)

    def _serializer(self, *args, **kwargs):
        return self.serializer_class(*args, context={"request": self.request}, **kwargs)

    def _get(self, pk: int):
        instance = self.select(user=self.request.user).filter(pk=pk).first()
        if instance is None:
            raise Http404
        return instance


class _TeamRecordListApi(_TeamRecordApi):
    class FilterSerializer(serializers.Serializer):
        team_id = TeamIdField(required=False)

    def get(self, request):
        filters = self.FilterSerializer(data=_query_params_plain(request.query_params), context={"request": request})
        filters.is_valid(raise_exception=True)
        team = filters.validated_data.get("team_id")
        paginator = Pagination()
        page = paginator.paginate_queryset(self.select(user=request.user, team=team), request, view=self)
        return paginator.get_paginated_response(self._serializer(page, many=True).data)

    def post(self, request):
        serializer = self._serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = self.create(data=serializer.validated_data)
        return Response(self._serializer(instance).data, status=status.HTTP_201_CREATED)


class _TeamRecordDetailApi(_TeamRecordApi):
    def get(self, request, pk: int):
        return Response(self._serializer(self._get(pk)).data)

    def put(self, request, pk: int):
        return self._change(request, pk, partial=False)

    def patch(self, request, pk: int):
        return self._change(request, pk, partial=True)

    def delete(self, request, pk: int):
        services.team_record_delete(instance=self._get(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _change(self, request, pk: int, *, partial: bool) -> Response:
        instance = self._get(pk)
        serializer = self._serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        instance = self.update(instance, serializer.validated_data)
        return Response(self._serializer(instance).data)


class _SavedSearches:
    serializer_class = SavedSearchSerializer
    select = staticmethod(selectors.saved_searches_for_user)
    create = staticmethod(services.saved_search_create)
    update = staticmethod(lambda instance, data: services.saved_search_update(saved_search=instance, data=data))


class _Applications:
    serializer_class = JobApplicationSerializer
    select = staticmethod(selectors.job_applications_for_user)
    create = staticmethod(services.job_application_create)
    update = staticmethod(lambda instance, data: services.job_application_update(application=instance, data=data))


class _AutomationRules:
    serializer_class = AutomationRuleSerializer
    select = staticmethod(selectors.automation_rules_for_user)
    create = staticmethod(services.automation_rule_create)
    update = staticmethod(lambda instance, data: services.automation_rule_update(rule=instance, data=data))


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
