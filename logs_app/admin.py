import logging

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from jobsite import timefmt
from logs_app.models import LogEntry

MESSAGE_SHOWN = 1000  # characters in the list; the full text is the cell's title and the entry's page


class MinimumLevelFilter(admin.SimpleListFilter):
    """Lines at a level or above (levelno >=), on the (levelno, timestamp) index."""

    title = "minimum level"
    parameter_name = "min_level"

    def lookups(self, request, model_admin):
        return [(str(n), f"{logging.getLevelName(n)} and above") for n in (10, 20, 30, 40, 50)]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(levelno__gte=int(value))
        return queryset


@admin.register(LogEntry)
class LogEntryAdmin(admin.ModelAdmin):
    """Read-only: log rows are written by the handler and removed by the clean-up job, never edited.

    `?run_id=N` (the run page's "log lines" link) filters by run: a lookup on a local field is allowed as is.
    """

    list_display = ("when", "level", "logger", "job_id", "run_link", "team_id", "message_text")
    list_filter = (MinimumLevelFilter, "level", ("timestamp", admin.DateFieldListFilter), "job_id", "logger")
    search_fields = ("message", "logger", "job_id")
    ordering = ("-timestamp", "-id")
    show_full_result_count = False  # no COUNT(*) over a large table on every page
    list_per_page = 100

    @admin.display(description="time", ordering="timestamp")
    def when(self, obj: LogEntry):
        return timefmt.when_html(obj.timestamp)

    @admin.display(description="run", ordering="run_id")
    def run_link(self, obj: LogEntry):
        if obj.run_id is None:
            return "-"
        try:
            url = reverse("admin:scheduler_app_jobrun_change", args=[obj.run_id])
        except NoReverseMatch:  # the run admin is not installed
            return obj.run_id
        return format_html('<a href="{}">#{}</a>', url, obj.run_id)

    @admin.display(description="message")
    def message_text(self, obj: LogEntry):
        # Wrapped, not cut at 120 characters; a very long line is cut with the whole text in the title.
        if len(obj.message) <= MESSAGE_SHOWN:
            return format_html('<span class="console-message">{}</span>', obj.message)
        return format_html('<span class="console-message" title="{}">{}…</span>', obj.message,
                           obj.message[:MESSAGE_SHOWN - 1])

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
