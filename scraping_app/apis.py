"""Job-search API views: parse input, call one service or selector, render."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from scheduler_app.api.refusals import refusal_response
from scheduler_app.models import JobRun
from scheduler_app.registry import InvalidJobParams
from scheduler_app.services import job_run
from scraping_app import selectors, services
from scraping_app.serializers import (
    AutomationRuleSerializer,
    JobApplicationSerializer,
    PostingDetailSerializer,
    PostingFilterSerializer,
    PostingSerializer,
    SavedSearchSerializer,
    ScrapeInputSerializer,
    ScrapeResultSerializer,
    TeamFilterSerializer,
    TeamSerializer,
)
from scraping_app.throttles import ScrapeRateThrottle

UNKNOWN_TEAM = {"team_id": ["Unknown team"]}


class Pagination(PageNumberPagination):
    """The project's page size (API_PAGE_SIZE), overridable per request with ?page_size= up to 100."""

    page_size_query_param = "page_size"
    max_page_size = 100


def _plain(query_params) -> dict:
    """A QueryDict as a plain dict (DRF treats a missing boolean in form input as False)."""
    return {key: query_params.get(key) for key in query_params}


class JobScrapeApi(APIView):
    """Run `scrape_jobs_task` now, synchronously, behind its execution lock (GET or POST)."""

    throttle_classes = [ScrapeRateThrottle]
    throttle_scope = "scrape"

    @extend_schema(parameters=[ScrapeInputSerializer], responses=ScrapeResultSerializer)
    def get(self, request):
        return self._scrape(request, _plain(request.query_params))

    @extend_schema(request=ScrapeInputSerializer, responses=ScrapeResultSerializer)
    def post(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        return self._scrape(request, {**_plain(request.query_params), **body})

    def _scrape(self, request, data: dict) -> Response:
        serializer = ScrapeInputSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        team = None
        if "team_id" in values:
            team = selectors.team_for_user(user=request.user, team_id=values["team_id"])
            if team is None:
                return Response(UNKNOWN_TEAM, status=status.HTTP_400_BAD_REQUEST)
        if not values.get("keyword") and not (team and selectors.saved_searches_active(team=team).exists()):
            return Response({"keyword": ["This field is required unless team_id names a team with active saved "
                                         "searches."]}, status=status.HTTP_400_BAD_REQUEST)
        params = {"limit": values["limit"]}
        params.update({name: values[name] for name in ("keyword", "location") if values.get(name)})
        try:
            run = job_run(job_id="scrape_jobs_task", trigger=JobRun.Trigger.API, user=request.user, team=team,
                          wait_seconds=values.get("wait"), params=params)
        except InvalidJobParams as exc:
            return Response({"detail": str(exc), **{k: [v] for k, v in exc.errors.items()}},
                            status=status.HTTP_400_BAD_REQUEST)
        refusal = refusal_response(run)
        if refusal is not None:
            return refusal
        result = run.result if isinstance(run.result, dict) else {}
        return Response({
            "run_id": run.pk,
            "status": run.status,
            "counts": result.get("counts", {}),
            "postings": result.get("postings", []),
            "served_from_store": result.get("served_from_store", False),
            "warnings": run.warnings or [],
            "error": run.error or None,
            "duration_ms": run.duration_ms,
        })


class PostingListApi(APIView):
    @extend_schema(parameters=[PostingFilterSerializer], responses=PostingSerializer(many=True))
    def get(self, request):
        filters = PostingFilterSerializer(data=_plain(request.query_params))
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
    def get(self, request):
        filters = TeamFilterSerializer(data=_plain(request.query_params))
        filters.is_valid(raise_exception=True)
        team = None
        if "team_id" in filters.validated_data:
            team = selectors.team_for_user(user=request.user, team_id=filters.validated_data["team_id"])
            if team is None:
                return Response(UNKNOWN_TEAM, status=status.HTTP_400_BAD_REQUEST)
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
    select = staticmethod(selectors.applications_for_user)
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
