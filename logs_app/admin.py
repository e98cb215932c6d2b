from django.contrib import admin

from logs_app.models import LogEntry


@admin.register(LogEntry)
class LogEntryAdmin(admin.ModelAdmin):
    """Read-only: log rows are written by the handler and removed by the clean-up job, never edited."""

    list_display = ("timestamp", "level", "logger", "job_id", "run_id", "team_id", "short_message")
    list_filter = ("level", ("timestamp", admin.DateFieldListFilter), "job_id", "logger")
    search_fields = ("message", "logger", "job_id")
    ordering = ("-timestamp", "-id")
    show_full_result_count = False  # no COUNT(*) over a large table on every page
    list_per_page = 100

    @admin.display(description="message")
    def short_message(self, obj: LogEntry) -> str:
        return obj.message if len(obj.message) <= 120 else obj.message[:117] + "..."

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
