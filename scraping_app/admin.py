from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models

from scraping_app import services
from scraping_app.models import AutomationRule, FollowUp, JobApplication, JobPosting, JobSource, SavedSearch, Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "created_at"]
    search_fields = ["name"]
    filter_horizontal = ["members"]


@admin.register(JobSource)
class JobSourceAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "kind", "enabled", "min_interval_seconds", "daily_request_cap", "requests_today",
                    "next_request_at", "last_fetched_at", "last_error"]
    list_editable = ["enabled"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "base_url"]
    readonly_fields = ["next_request_at", "budget_day", "requests_today", "last_fetched_at", "last_error",
                       "created_at"]
    actions = ["enable_sources", "disable_sources"]

    @admin.action(description="Enable selected sources")
    def enable_sources(self, request, queryset):
        for source in queryset:
            services.source_set_enabled(source_id=source.pk, enabled=True)
        self.message_user(request, f"Enabled {queryset.count()} source(s).", messages.SUCCESS)

    @admin.action(description="Disable selected sources")
    def disable_sources(self, request, queryset):
        for source in queryset:
            services.source_set_enabled(source_id=source.pk, enabled=False)
        self.message_user(request, f"Disabled {queryset.count()} source(s).", messages.SUCCESS)


class PostingCanonicalFilter(admin.SimpleListFilter):
    title = "duplicates"
    parameter_name = "canonical"

    def lookups(self, request, model_admin):
        return [("yes", "Canonical"), ("no", "Duplicate")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(duplicate_of__isnull=self.value() == "yes")
        return queryset


class PostingCopiesInline(admin.TabularInline):
    """The copies of a canonical posting's job on other boards (linked by services.dedupe, never by hand)."""

    model = JobPosting
    fk_name = "duplicate_of"
    verbose_name, verbose_name_plural = "copy on another board", "copies on other boards"
    fields = ["source", "source_job_id", "title", "company", "location", "url"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(JobPosting)
class JobPostingAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "company", "location", "is_remote", "source", "posted_at", "last_seen_at",
                    "copy_of"]
    list_filter = ["source", "is_remote", PostingCanonicalFilter]
    search_fields = ["title", "company", "location", "source_job_id"]
    date_hierarchy = "posted_at"
    readonly_fields = ["first_seen_at", "last_seen_at", "fingerprint", "dedupe_key", "duplicate_of", "raw"]
    list_select_related = ["source"]
    inlines = [PostingCopiesInline]

    @admin.display(description="duplicate of", ordering="duplicate_of")
    def copy_of(self, posting: JobPosting) -> int | None:
        return posting.duplicate_of_id  # the id: no query per row
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


class SavedSearchAdminForm(forms.ModelForm):
    """The team's cap is the service's rule, checked here so the admin answers with a form error. The admin
    validates and saves in one transaction, so the team row the check locks stays locked until the save commits."""

    class Meta:
        model = SavedSearch
        fields = ["team", "keyword", "location", "limit", "sources", "active"]

    def clean(self):
        cleaned = super().clean()
        team = cleaned.get("team")
        if team is not None:
            try:
                services.saved_search_team_cap_check(team=team,
                                                     saved_search=self.instance if self.instance.pk else None)
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


@admin.register(SavedSearch)
class SavedSearchAdmin(admin.ModelAdmin):
    form = SavedSearchAdminForm
    list_display = ["id", "keyword", "location", "limit", "team", "active", "last_scraped_at"]
    list_filter = ["active", "team"]
    filter_horizontal = ["sources"]
    readonly_fields = ["last_scraped_at", "created_at"]


class FollowUpInline(admin.TabularInline):
    model = FollowUp
    extra = 0
    fields = ["due_at", "message", "recipients", "emailed_at", "done_at", "done_by", "snooze_count", "created_at"]
    readonly_fields = fields


@admin.register(JobApplication)
class JobApplicationAdmin(admin.ModelAdmin):
    list_display = ["id", "posting", "team", "status", "applied_at", "follow_up_at", "created_by_rule"]
    list_filter = ["status", "team"]
    search_fields = ["posting__title", "posting__company", "notes"]
    raw_id_fields = ["posting"]
    inlines = [FollowUpInline]


class FollowUpDoneFilter(admin.SimpleListFilter):
    title = "done"
    parameter_name = "done"

    def lookups(self, request, model_admin):
        return [("yes", "Done"), ("no", "Not done")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(done_at__isnull=self.value() == "no")
        return queryset


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = ["id", "application", "due_at", "is_done", "done_at", "done_by", "snooze_count", "emailed_at",
                    "created_at"]
    list_filter = [FollowUpDoneFilter]
    list_select_related = ["application__posting", "application__team", "done_by"]
    readonly_fields = ["done_at", "done_by", "snooze_count", "created_at"]
    raw_id_fields = ["application"]
    actions = ["mark_done", "snooze_one_day"]

    @admin.display(boolean=True, description="done", ordering="done_at")
    def is_done(self, follow_up: FollowUp) -> bool:
        return follow_up.done_at is not None

    @admin.action(description="Mark done")
    def mark_done(self, request, queryset):
        for follow_up in queryset:
            services.follow_up_done(follow_up=follow_up, user=request.user)
        self.message_user(request, f"Marked {len(queryset)} follow-up(s) done.", messages.SUCCESS)

    @admin.action(description="Snooze 1 day")
    def snooze_one_day(self, request, queryset):
        snoozed = 0
        for follow_up in queryset:
            try:
                services.follow_up_snooze(follow_up=follow_up, days=1)
            except services.FollowUpRefused as exc:
                self.message_user(request, f"Follow-up {follow_up.pk}: {exc}", messages.WARNING)
                continue
            snoozed += 1
        self.message_user(request, f"Snoozed {snoozed} follow-up(s) by 1 day.", messages.SUCCESS)


@admin.register(AutomationRule)
class AutomationRuleAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "team", "remote_only", "min_salary", "auto_shortlist", "active", "last_run_at"]
    list_filter = ["active", "team", "auto_shortlist"]
