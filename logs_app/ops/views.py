"""/metrics and /healthz: plain Django views (no DRF auth: probes and Prometheus call them)."""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from logs_app.ops import metrics
from logs_app.ops.checks import health_report

logger = logging.getLogger("logs_app")


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_BEARER_TOKEN
    if token and not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
        return HttpResponse("unauthorized\n", status=401, content_type="text/plain")
    try:
        body = metrics.metrics_render()
    except Exception as exc:  # noqa: BLE001 - figures come from the database: down means no scrape, not a 500
        logger.warning("Metrics unavailable: %s", exc)
        return HttpResponse(f"# metrics unavailable: {type(exc).__name__}\n", status=503,
                            content_type="text/plain")
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


@require_GET
def healthz_view(request: HttpRequest) -> JsonResponse:
    report = health_report()
    return JsonResponse(report.as_dict(), status=200 if report.healthy else 503)
