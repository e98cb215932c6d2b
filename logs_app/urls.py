from logs_app.api.views import LogClearApi, LogEntryListApi
from scheduler_app.api.routes import api_route

urlpatterns = [
    api_route("logs", LogEntryListApi.as_view(), name="logs-list"),
    api_route("logs/clear", LogClearApi.as_view(), name="logs-clear"),
]
