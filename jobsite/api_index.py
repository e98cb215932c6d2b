"""GET /api/v1/: the index of the API's resources (absolute URLs), and the JSON 404 for any other path under /api/."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

# name in the index -> URL name; lists and actions only (details hang off them).
RESOURCES = {
    "jobs": "jobs-list",
    "jobs/scrape": "jobs-scrape",
    "teams": "teams-list",
    "saved-searches": "saved-searches-list",
    "applications": "applications-list",
    "automation-rules": "automation-rules-list",
    "follow-ups": "follow-ups-list",
    "scheduler/status": "scheduler-status",
    "scheduler/job": "scheduler-job",
    "scheduler/runs": "scheduler-run-list",
    "scheduler/locks": "scheduler-lock-list",
    "scheduler/locks/cleanup": "scheduler-lock-cleanup",
    "scheduler/restart": "scheduler-restart",
    "logs": "logs-list",
    "logs/clear": "logs-clear",
    "schema": "schema",
    "docs": "swagger-ui",
}


class ApiIndexView(APIView):
    @extend_schema(responses=inline_serializer("ApiIndex", fields={
        name: serializers.URLField() for name in RESOURCES}), summary="The API's resources")
    def get(self, request):
        return Response({name: request.build_absolute_uri(reverse(url_name)) for name, url_name in RESOURCES.items()})


class ApiNotFoundView(APIView):
    """Any path under /api/ that names no route: a JSON 404 like every other API error, not an HTML page."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = []
    schema = None  # not an operation of the API

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise NotFound(f"No API route at {request.path}. The index is at /api/v1/.")

    get = post = put = patch = delete = head = options = http_method_not_allowed
