from django.urls import path

from logs_app.api.views import LogClearApi, LogEntryListApi

urlpatterns = [
    path("logs/", LogEntryListApi.as_view(), name="logs-list"),
    path("logs/clear", LogClearApi.as_view(), name="logs-clear"),
]
