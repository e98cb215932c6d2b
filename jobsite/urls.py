from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from jobsite.api_index import ApiIndexView, ApiNotFoundView

urlpatterns = [
    path("admin/", admin.site.urls),
    re_path(r"^api/v1/?$", ApiIndexView.as_view(), name="api-index"),
    path("api/v1/", include("scheduler_app.urls")),
    path("api/v1/", include("scraping_app.urls")),
    path("api/v1/", include("logs_app.urls")),
    path("", include("logs_app.ops.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    re_path(r"^api/", ApiNotFoundView.as_view(), name="api-not-found"),  # last: only what no route above matched
]
