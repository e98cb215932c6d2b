from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import models
from django.template.response import TemplateResponse
from django.urls import path
from rest_framework.exceptions import ValidationError as DRFValidationError

from scraping_app import selectors, services, tracker
from scraping_app.api.filters import saved_search_filters_validate
from scraping_app.models import (
    ApplicationStageChange,
    AutomationRule,
    Contact,
    FollowUp,
    Interview,
    JobApplication,
    JobPosting,
    JobSource,
    SavedSearch,
    Team,
)
from scraping_app.services.applications import EXTERNAL_FIELDS


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
    readonly_fields = ["first_seen_at", "last_seen_at", "fingerprint", "dedupe_key", "duplicate_of", "raw",
                       # what the board published (sources/*): shown as it came, not edited
                       "company_logo_url", "other_locations", "expires_at", "requirements"]
    list_select_related = ["source"]
    inlines = [PostingCopiesInline]

    @admin.display(description="duplicate of", ordering="duplicate_of")
    def copy_of(self, posting: JobPosting) -> int | None:
        return posting.duplicate_of_id  # the id: no query per row

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


class SavedSearchAdminForm(forms.ModelForm):
    """The team's cap is the service's rule, checked here so the admin answers with a form error. The admin
    validates and saves in one transaction, so the team row the check locks stays locked until the save commits.
    `filters` is validated like the API's (scraping_app.api.filters): a bad one is a form error, not a 500."""

    class Meta:
        model = SavedSearch
        fields = ["team", "keyword", "location", "limit", "sources", "filters", "alert", "alert_emails", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["alert"].required = False  # absent: off, the model's default

    def clean_filters(self) -> dict:
        try:
            return saved_search_filters_validate(self.cleaned_data.get("filters") or {})
        except DRFValidationError as exc:
            raise ValidationError(_drf_messages(exc.detail)) from None

    def clean_alert(self) -> str:
        return self.cleaned_data.get("alert") or SavedSearch.Alert.OFF

    def clean_alert_emails(self) -> list[str]:
        emails = self.cleaned_data.get("alert_emails") or []
        if not isinstance(emails, list) or not all(isinstance(email, str) for email in emails):
            raise ValidationError('Give a list of email addresses, e.g. ["ann@example.com"].')
        for email in emails:
            validate_email(email)
        return emails

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


def _drf_messages(detail) -> list[str]:
    """DRF's error detail ({"salary_min": ["A valid number is required."]}) as form messages."""
    if isinstance(detail, dict):
        return [f"{name}: {message}" for name, messages in detail.items() for message in _drf_messages(messages)]
    if isinstance(detail, list):
        return [message for item in detail for message in _drf_messages(item)]
    return [str(detail)]


@admin.register(SavedSearch)
class SavedSearchAdmin(admin.ModelAdmin):
    form = SavedSearchAdminForm
    list_display = ["id", "keyword", "location", "limit", "team", "active", "alert", "last_scraped_at",
                    "last_alerted_at"]
    list_filter = ["active", "team", "alert"]
    filter_horizontal = ["sources"]
    readonly_fields = ["last_scraped_at", "last_alerted_at", "created_at"]
    actions = ["send_digest_now"]

    @admin.action(description="Send digest now")
    def send_digest_now(self, request, queryset):
        sent = services.saved_search_digests_send(alert=None, search_ids=list(queryset.values_list("pk", flat=True)))
        text = f"Sent {sent['emails']} digest email(s) listing {sent['postings']} new posting(s)."
        if sent["failed"]:
            text += f" {sent['failed']} failed to send; their postings go in the next digest."
        self.message_user(request, text, messages.WARNING if sent["failed"] else messages.SUCCESS)


class FollowUpInline(admin.TabularInline):
    model = FollowUp
    extra = 0
    fields = ["due_at", "message", "recipients", "emailed_at", "done_at", "done_by", "snooze_count", "created_at"]
    readonly_fields = fields


class StageChangeInline(admin.TabularInline):
    """The application's history: written by its moves only."""

    model = ApplicationStageChange
    extra = 0
    can_delete = False
    fields = ["from_status", "to_status", "changed_at", "changed_by", "note"]
    readonly_fields = fields
    verbose_name_plural = "stage history"

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # a bare "example.com/ada" is https
    fields = ["name", "role", "email", "phone", "url", "notes"]


class InterviewInline(admin.TabularInline):
    model = Interview
    extra = 0
    fields = ["scheduled_at", "kind", "notes"]


def _move_action(stage: str):
    """The admin action "Move to <stage>": each selected application through application_move; refused moves are
    reported one by one (the others still move)."""

    def move(modeladmin, request, queryset):
        moved = 0
        for application in queryset:
            try:
                was = application.status
                services.application_move(application=application, to_status=stage, user=request.user)
                moved += was != stage
            except services.ApplicationRefused as exc:
                modeladmin.message_user(request, f"Application {application.pk} not moved: {exc.messages[0]}",
                                        messages.WARNING)
        modeladmin.message_user(request, f"Moved {moved} application(s) to {stage}.", messages.SUCCESS)

    move.__name__ = f"move_to_{stage}"
    return admin.action(description=f"Move to {stage}")(move)


_STAGE_TIMESTAMPS = ["status_changed_at", *tracker.STAGE_TIMESTAMP_FIELDS.values()]
_FIXED_ONCE_CREATED = ["team", "posting", "status"]  # status moves through the actions (the tracker's graph)


# What the add form writes (through application_create); a change writes the same less _FIXED_ONCE_CREATED.
_CREATE_FIELDS = ["team", "posting", "external_url", "external_title", "external_company", "status", "notes",
                  "follow_up_at", "salary_expected", "offer_salary", "offer_currency", "offer_period", "offer_notes"]


class JobApplicationAdminForm(forms.ModelForm):
    external_url = forms.URLField(required=False, max_length=1000, assume_scheme="https")

    class Meta:
        model = JobApplication
        fields = _CREATE_FIELDS

    def clean(self):
        data = super().clean()
        posting = data.get("posting") or (self.instance.posting if self.instance.pk else None)
        if posting is not None and any(data.get(name) for name in EXTERNAL_FIELDS):
            raise ValidationError("Give a posting or a job found elsewhere (the external fields), not both.")
        return data


@admin.register(JobApplication)
class JobApplicationAdmin(admin.ModelAdmin):
    form = JobApplicationAdminForm
    fields = [*_CREATE_FIELDS, *_STAGE_TIMESTAMPS, "created_by_rule", "created_at", "updated_at"]
    list_display = ["id", "job", "team", "status", "status_changed_at", "applied_at", "follow_up_at",
                    "created_by_rule"]
    list_filter = ["status", "team"]
    list_select_related = ["posting", "team", "created_by_rule"]
    search_fields = ["posting__title", "posting__company", "external_title", "external_company", "notes"]
    raw_id_fields = ["posting"]
    inlines = [StageChangeInline, ContactInline, InterviewInline, FollowUpInline]
    actions = [_move_action(stage) for stage in tracker.STAGES if stage != JobApplication.Status.SHORTLISTED]
    change_list_template = "admin/scraping_app/jobapplication/change_list.html"

    @admin.display(description="job")
    def job(self, application: JobApplication) -> str:
        job = tracker.application_job(application=application)
        return f"{job.title} at {job.company}" if job.company else job.title

    def get_readonly_fields(self, request, obj=None):
        fixed = _FIXED_ONCE_CREATED if obj is not None else []
        return [*fixed, *_STAGE_TIMESTAMPS, "created_by_rule", "created_at", "updated_at"]

    def save_model(self, request, obj, form, change) -> None:
        if change:
            services.application_update(application=obj, user=request.user,
                                        data={name: form.cleaned_data[name] for name in form.changed_data})
            return
        fields = {name: value for name, value in form.cleaned_data.items() if name in _CREATE_FIELDS}
        created = services.application_create(**fields, user=request.user)
        # The admin goes on with its own object (its inlines hang on it): give it the stored row.
        for field in JobApplication._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding, obj._state.db = False, created._state.db

    def get_urls(self):
        board = path("board/", self.admin_site.admin_view(self.board_view), name="scraping_app_jobapplication_board")
        return [board, *super().get_urls()]

    def board_view(self, request):
        """A column per stage with its applications' cards, for every team or the one `?team=` names."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        team_id = request.GET.get("team", "")
        team = selectors.team_get(team_id=int(team_id)) if team_id.isdigit() and len(team_id) <= 18 else None
        context = {**self.admin_site.each_context(request), "title": "Applications board", "opts": self.opts,
                   "columns": selectors.applications_board(team=team), "team": team,
                   "teams": selectors.teams_for_user(user=request.user)}
        return TemplateResponse(request, "admin/scraping_app/jobapplication/board.html", context)



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
