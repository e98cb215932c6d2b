"""Django admin for the scheduler. Actions go through the same services as the API, so "Run now" never overlaps a
scheduled run: a held lock gives a clear admin message instead."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from scheduler_app import admin_display, registry, selectors, services
from scheduler_app.admin_display import STATUS_COLOURS
from scheduler_app.admin_filters import DatabaseLockRowsFilter, FailuresOnlyFilter
from scheduler_app.models import DatabaseLock, JobDefinition, JobRun, OperatorAction, SchedulerInstance
from scheduler_app.storable import surrogates_replaced

# The admin index links to the Scheduler dashboard.
admin.site.index_template = "admin/scheduler_app/index_with_dashboard.html"
# No app list down the left of every page: at 1280 px it took 275 px of the 1,000 the console's tables need (the
# index and the breadcrumbs still lead everywhere).
admin.site.enable_nav_sidebar = False

def _refusal_message(refusal: selectors.Refusal) -> str:
    if refusal.kind in (selectors.Refusal.LOCK_HELD, selectors.Refusal.QUEUE_FULL):
        return f"{refusal.job_id}: {refusal.message}. Run #{refusal.run_id} SKIPPED."
    started = f"run #{refusal.run_id} was not started" if refusal.run_id else "no run was started"
    return f"{refusal.job_id}: {refusal.detail.lower()}; {started} ({refusal.error})."


@admin.register(JobDefinition)
class JobDefinitionAdmin(admin.ModelAdmin):
    list_display_links = ["job_id"]
    list_filter = ["enabled", "trigger_type", "lock_scope", "overlap_policy"]
    search_fields = ["job_id", "name"]
    fields = ["job_id", "name", "trigger_type", "cron", "time_zone", "interval_seconds", "timeout_minutes",
              "timeout_advice", "enabled", "pause_state", "lock_scope", "overlap_policy", "wait_seconds",
              "catch_up_policy", "catch_up_window_seconds", "jitter_seconds", "updated_at"]
    readonly_fields = ["timeout_advice", "pause_state", "updated_at"]
    actions = ["run_now", "run_now_queue_one", "run_now_replace", "clear_lock", "pause_schedule", "resume_schedule"]

    @admin.display(description="schedule paused")
    def pause_state(self, definition: JobDefinition):
        text = selectors.pause_text(paused_by=definition.paused_by, paused_at=definition.paused_at,
                                    reason=definition.pause_reason)
        if not text:
            return "No: it fires on schedule. (Pause it with Pause schedule.)"
        return format_html('<strong class="console-warn console-paused">Paused</strong>: {}. No slot fires or is '
                           'recorded until it is resumed; manual triggers still run.', text)

    @admin.display(description="timeout advice")
    def timeout_advice(self, definition: JobDefinition):
        if definition.pk is None:
            return "-"
        advice = selectors.timeout_advice(timeouts={definition.job_id: definition.timeout_minutes})[definition.job_id]
        if not advice.runs:
            return "No successful run yet: nothing to advise."
        text = (f"p95 of the last {advice.runs} successful runs: {advice.p95_seconds:g} s; advised timeout "
                f"(p95 x 1.5): {advice.advised_minutes:g} min.")
        if advice.warning:
            return format_html('{}<br><strong class="timeout-warning" style="color:#c62828">{}</strong>', text,
                               advice.warning)
        return text

    def get_readonly_fields(self, request, obj=None):
        # The job id names registered code: editable only when adding.
        return [*self.readonly_fields, "job_id"] if obj else self.readonly_fields

    def get_list_display(self, request):
        """Columns from one status read per page (constant queries), bound to this request."""
        return admin_display.job_list_columns({job["id"]: job for job in selectors.scheduler_status()["jobs"]})

    def get_list_display_links(self, request, list_display):
        return list_display[:1]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "cron" and field is not None:
            field.help_text = (f"Five-field crontab, in {settings.TIME_ZONE} (the TIME_ZONE setting) unless the time "
                               f"zone below names another.")
        if db_field.name == "time_zone" and field is not None:
            field.help_text = (f"IANA time zone of the cron schedule, e.g. Europe/Berlin (blank: "
                               f"{settings.TIME_ZONE}). A time that occurs twice at the fall-back runs once, at its "
                               f"first occurrence; one that does not exist at the spring-forward runs once, at the "
                               f"next valid instant. Interval schedules ignore it.")
        return field

    def change_view(self, request, object_id, form_url="", extra_context=None):
        definition = self.get_object(request, object_id)
        if definition is not None:
            console = selectors.job_console(definition=definition)
            extra_context = {**(extra_context or {}), "console": console,
                             "timeline": admin_display.timeline(console["timeline"], [definition.job_id])}
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if change:  # only the fields the form edits: a pause or resume made meanwhile stands
            columns = {field.name for field in obj._meta.concrete_fields}
            obj.save(update_fields=[name for name in form.changed_data if name in columns] + ["updated_at"])
        else:
            super().save_model(request, obj, form, change)
        services.scheduler_reload_request()
        self.message_user(request, "Schedulers were asked to reload the job definitions.", messages.INFO)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        services.scheduler_reload_request()

    @admin.action(description="Run now")
    def run_now(self, request, queryset):
        self._run_now(request, queryset)

    @admin.action(description="Run now, queue one (starts when the running one ends)")
    def run_now_queue_one(self, request, queryset):
        self._run_now(request, queryset, overlap=JobDefinition.OverlapPolicy.QUEUE_ONE)

    @admin.action(description="Run now, replace running (cancels it at its next check)")
    def run_now_replace(self, request, queryset):
        self._run_now(request, queryset, overlap=JobDefinition.OverlapPolicy.REPLACE)

    def _run_now(self, request, queryset, *, overlap: str | None = None) -> None:
        """Each job's trigger, with the job's own overlap policy or the one the action names."""
        for definition in queryset:
            try:
                run = services.job_run(job_id=definition.job_id, trigger=JobRun.Trigger.ADMIN, user=request.user,
                                       background=True, overlap=overlap)
            except (registry.JobNotFound, registry.InvalidJobParams) as exc:
                self.message_user(request, f"{definition.job_id}: {exc}", messages.ERROR)
                continue
            except services.RunNotRecorded as exc:
                refusal = selectors.run_not_recorded_refusal(job_id=definition.job_id, error=exc)
                self.message_user(request, _refusal_message(refusal), messages.ERROR)
                continue
            refusal = selectors.run_refusal(run=run)
            if refusal is not None:
                self.message_user(request, _refusal_message(refusal), messages.ERROR)
            else:
                url = reverse("admin:scheduler_app_jobrun_change", args=[run.pk])
                note = selectors.run_overlap_note(run=run)
                verb = "queued" if run.status == JobRun.Status.QUEUED else "started"
                self.message_user(request, format_html('{}: {} run <a href="{}">#{}</a> ({}{}).', definition.job_id,
                                                       verb, url, run.pk, run.status, f": {note}" if note else ""),
                                  messages.SUCCESS)

    @admin.action(description="Clear lock")
    def clear_lock(self, request, queryset):
        """A stale or free lock clears at once. A live holder's first gets a page that says what clearing does
        (nothing that stops the run) and offers Cancel run instead."""
        if request.POST.get("confirm") != "yes":
            live = [(definition, state) for definition in queryset
                    for state in services.lock_holders_live(job_id=definition.job_id)]
            if live:
                context = {**self.admin_site.each_context(request), "title": "Clear a live holder's lock?",
                           "live": live, "queryset": queryset, "opts": self.model._meta,
                           "lease_third": settings.LOCK_LEASE_SECONDS / 3,
                           "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME}
                return TemplateResponse(request, "admin/scheduler_app/clear_lock_confirm.html", context)
        for definition in queryset:
            for result in services.job_locks_clear(job_id=definition.job_id, user=request.user, source="admin"):
                level = messages.WARNING if result.holder_live else (
                    messages.SUCCESS if result.released else messages.INFO)
                self.message_user(request, result.message, level)
        return None

    @admin.action(description="Pause schedule")
    def pause_schedule(self, request, queryset):
        """Asks for a reason first (a page that lists the jobs), then pauses each: no slot fires or is recorded
        until it is resumed; manual triggers still run."""
        reason = request.POST.get("reason", "").strip()
        if request.POST.get("confirm") != "yes" or not reason:
            context = {**self.admin_site.each_context(request), "title": "Pause the schedule?",
                       "queryset": queryset, "opts": self.model._meta, "reason": reason,
                       "reason_max": services.PAUSE_REASON_MAX,
                       "reason_missing": request.POST.get("confirm") == "yes",
                       "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME}
            return TemplateResponse(request, "admin/scheduler_app/pause_schedule_confirm.html", context)
        for definition in queryset:
            try:
                result = services.job_schedule_pause(job_id=definition.job_id, reason=reason, user=request.user,
                                                     source="admin")
            except ValidationError as exc:
                self.message_user(request, f"{definition.job_id}: {' '.join(exc.messages)}", messages.ERROR)
                continue
            self.message_user(request, result.message, messages.SUCCESS if result.changed else messages.INFO)
        return None

    @admin.action(description="Resume schedule")
    def resume_schedule(self, request, queryset):
        for definition in queryset:
            result = services.job_schedule_resume(job_id=definition.job_id, user=request.user, source="admin")
            self.message_user(request, result.message, messages.SUCCESS if result.changed else messages.INFO)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OperatorAction)
class OperatorActionAdmin(ReadOnlyAdmin):
    """Read-only: who did what to which run or lock, from where, and what came of it."""

    list_display = ["at", "username", "source", "action", "job_id", "run_link", "outcome"]
    list_filter = ["action", "source", ("at", admin.DateFieldListFilter)]
    search_fields = ["username", "job_id", "outcome"]

    @admin.display(description="run", ordering="run_id")
    def run_link(self, action: OperatorAction):
        if not action.run_id:
            return "-"
        return format_html('<a href="{}">#{}</a>', reverse("admin:scheduler_app_jobrun_change",
                                                           args=[action.run_id]), action.run_id)


def _json_text(value) -> str:
    return "-" if value is None else json.dumps(surrogates_replaced(value), ensure_ascii=False, indent=1)


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = [admin_display.run_column, admin_display.run_status_column, admin_display.run_started_column,
                    admin_display.run_duration_column, admin_display.run_who_column, admin_display.run_host_column]
    list_filter = ["job_id", "status", FailuresOnlyFilter, "trigger", "team", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["team", "user"]
    search_fields = ["job_id", "lock_key", "error"]
    date_hierarchy = "created_at"
    # The summaries first (what an operator reads and does), then the raw record. Times, progress and the cancel
    # request are shown by the summaries, not again as raw fields.
    fields = ["cancel_link", "console_links", "overlap_text", "progress_text", "times_text", "job_id", "lock_key",
              "trigger",
              "status", "skip_reason", "user", "team", "scheduled_for", "duration_ms", "lock_wait_ms",
              "start_lateness_ms", "timeout_seconds", "lock_backend", "lock_token", "fencing_token", "host", "pid",
              "warnings", "params_text", "result_text", "blocked_by_text", "error_text", "traceback_block"]
    readonly_fields = ["cancel_link", "console_links", "overlap_text", "progress_text", "times_text", "params_text",
                       "result_text",
                       "blocked_by_text", "error_text", "traceback_block"]
    actions = ["cancel_runs"]

    def get_urls(self):
        cancel = path("<path:object_id>/cancel/", self.admin_site.admin_view(self.cancel_view),
                      name="scheduler_app_jobrun_cancel")
        return [cancel, *super().get_urls()]

    def cancel_view(self, request, object_id: str):
        """GET: what cancelling this run will do. POST: cancel it (recorded) and go back to the run."""
        run = self.get_object(request, object_id)
        if run is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        if request.method == "POST":
            result = services.job_run_cancel(run_id=run.pk, user=request.user, source="admin")
            self.message_user(request, result.message, messages.SUCCESS if result.accepted else messages.WARNING)
            return redirect("admin:scheduler_app_jobrun_change", run.pk)
        context = {**self.admin_site.each_context(request), "title": f"Cancel run #{run.pk}?", "run": run,
                   "opts": self.model._meta, "lease_third": settings.LOCK_LEASE_SECONDS / 3}
        return TemplateResponse(request, "admin/scheduler_app/cancel_run_confirm.html", context)

    @admin.action(description="Cancel selected runs")
    def cancel_runs(self, request, queryset):
        for run in queryset:
            result = services.job_run_cancel(run_id=run.pk, user=request.user, source="admin")
            self.message_user(request, result.message, messages.SUCCESS if result.accepted else messages.WARNING)

    @admin.display(description="operator")
    def cancel_link(self, run: JobRun):  # the first field: Cancel run, or what became of a cancel
        if run.is_finished:
            who = f" (cancelled by {run.cancel_requested_by})" if run.cancel_requested_by else ""
            return f"Ended {run.status}{who}."
        if run.cancel_requested_at:
            return f"Cancel requested by {run.cancel_requested_by} at {run.cancel_requested_at:%H:%M:%S}."
        return format_html('<a class="button" id="cancel-run" href="{}">Cancel run</a>',
                           reverse("admin:scheduler_app_jobrun_cancel", args=[run.pk]))

    def get_fields(self, request, obj=None):
        lead = ["console_links", "progress_text", "times_text"]
        return lead + [name for name in super().get_fields(request, obj) if name not in lead]

    @admin.display(description="links")
    def console_links(self, run: JobRun):
        return admin_display.run_links(run, definition_id=selectors.job_definition_admin_id(job_id=run.job_id))

    @admin.display(description="progress")
    def progress_text(self, run: JobRun):
        return admin_display.progress_html(admin_display.run_progress(run))

    @admin.display(description="times")
    def times_text(self, run: JobRun):
        return admin_display.run_times(run)

    # Shown through surrogates_replaced: a row stored before input was checked may hold a lone surrogate, which
    # no UTF-8 response can carry (the page would be a 500).
    @admin.display(description="params")
    def params_text(self, run: JobRun):
        return _json_text(run.params)

    @admin.display(description="result")
    def result_text(self, run: JobRun):
        return _json_text(run.result)

    @admin.display(description="blocked by")
    def blocked_by_text(self, run: JobRun):
        return _json_text(run.blocked_by)

    @admin.display(description="overlap")
    def overlap_text(self, run: JobRun):
        """What the overlap policy did: queued behind run #M, replaced by run #N, the queue was full."""
        return selectors.run_overlap_note(run=run) or "-"

    @admin.display(description="error")
    def error_text(self, run: JobRun):
        return surrogates_replaced(run.error) or "-"

    @admin.display(description="status", ordering="status")
    def coloured_status(self, run: JobRun):
        return format_html('<span style="color:{}">{}</span>', STATUS_COLOURS.get(run.status, "#333"), run.status)

    @admin.display(description="traceback")
    def traceback_block(self, run: JobRun):
        return format_html("<pre>{}</pre>", surrogates_replaced(run.traceback)) if run.traceback else "-"

    def has_view_permission(self, request, obj=None):
        return request.user.is_staff


@admin.register(DatabaseLock)
class DatabaseLockAdmin(ReadOnlyAdmin):
    """The database lease rows: live leases by default, the backend holding each job now, and a clean-up of the rows
    an outage leaves behind."""

    list_filter = [DatabaseLockRowsFilter]
    actions = ["delete_leftover_rows"]

    def get_list_display(self, request):
        """Columns bound to one read of the locks held now (Redis and database), per page."""
        held = getattr(request, "console_locks", None)
        return admin_display.database_lock_columns(selectors.lock_state_dicts() if held is None else held)

    def changelist_view(self, request, extra_context=None):
        request.console_locks = selectors.lock_state_dicts()
        extra_context = {**(extra_context or {}), "held_now": request.console_locks}
        return super().changelist_view(request, extra_context)

    @admin.action(description="Delete leftover rows (expired or released; live leases stay)")
    def delete_leftover_rows(self, request, queryset):
        deleted = services.database_locks_cleanup(keys=list(queryset.values_list("key", flat=True)),
                                                  user=request.user, source="admin")
        if deleted:
            self.message_user(request, f"Deleted leftover row(s): {', '.join(deleted)}.", messages.WARNING)
        else:
            self.message_user(request, "No leftover rows among those selected: live leases are never deleted.",
                              messages.INFO)


@admin.register(SchedulerInstance)
class SchedulerInstanceAdmin(ReadOnlyAdmin):
    list_display = ["host", "pid", "started_at", "heartbeat_at", "stopped_at"]

    def get_urls(self):
        urls = [
            path("dashboard/", self.admin_site.admin_view(self.dashboard_view), name="scheduler_dashboard"),
            path("dashboard/cleanup/", self.admin_site.admin_view(self.cleanup_view),
                 name="scheduler_dashboard_cleanup"),
        ]
        return urls + super().get_urls()

    def dashboard_view(self, request):
        data = selectors.scheduler_dashboard()
        context = {**self.admin_site.each_context(request), "title": "Scheduler dashboard", **data,
                   **admin_display.dashboard_context(data)}
        return TemplateResponse(request, "admin/scheduler_app/dashboard.html", context)

    def cleanup_view(self, request):
        if request.method != "POST":
            return redirect("admin:scheduler_dashboard")
        cleared = services.locks_clear_stale()
        if cleared:
            self.message_user(request, "Cleared stale lock(s): " + ", ".join(s.key for s in cleared),
                              messages.WARNING)
        else:
            self.message_user(request, "No stale locks to clear.", messages.INFO)
        return redirect("admin:scheduler_dashboard")
