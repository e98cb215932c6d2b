"""The console's list filters: failures only (runs) and live leases or leftovers (database locks)."""

from __future__ import annotations

from django.contrib import admin

from scheduler_app.selectors import FAILURE, database_lock_leftover_q


class FailuresOnlyFilter(admin.SimpleListFilter):
    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [("failures", "failures only (FAILED, TIMED_OUT, LOST_LOCK, ABANDONED)"),
                ("not_run", "skipped or missed")]

    def queryset(self, request, queryset):
        if self.value() == "failures":
            return queryset.filter(status__in=FAILURE)
        if self.value() == "not_run":
            return queryset.filter(status__in=["SKIPPED", "MISSED"])
        return queryset


class DatabaseLockRowsFilter(admin.SimpleListFilter):
    """Live leases by default: a leftover row from an outage is not a lock anybody holds."""

    title = "rows"
    parameter_name = "rows"

    def lookups(self, request, model_admin):
        return [("live", "live leases"), ("leftover", "leftover rows (expired or released)"), ("all", "all rows")]

    def value(self):
        return super().value() or "live"

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {"selected": self.value() == lookup, "query_string": changelist.get_query_string(
                {self.parameter_name: lookup}), "display": title}

    def queryset(self, request, queryset):
        if self.value() == "leftover":
            return queryset.filter(database_lock_leftover_q())
        if self.value() == "all":
            return queryset
        return queryset.exclude(database_lock_leftover_q())
