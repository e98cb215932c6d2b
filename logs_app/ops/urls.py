from django.urls import path

from logs_app.ops.views import healthz_view, metrics_view

urlpatterns = [
    path("metrics", metrics_view, name="metrics"),
    path("healthz", healthz_view, name="healthz"),
]
