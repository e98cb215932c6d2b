"""The job-search API's output shapes, and the team records' serializers (their input and output alike).

Each view's own input serializer (query filters, the scrape's parameters) is nested in the view.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scheduler_app.api.fields import (
    StrictBooleanField,
    StrictCharField,
    StrictDecimalField,
    StrictFloatField,
    StrictIntegerField,
    UnknownFieldsRejected,
)
from scraping_app.api.fields import LenientDateTimeField, TeamIdField
from scraping_app.api.filters import SavedSearchFilterSerializer, saved_search_filters_validate
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
from scraping_app.saved_search_filters import saved_search_filters_dump
from scraping_app.selectors import FOLLOW_UP_STATUSES, follow_up_status
from scraping_app.services import SNOOZE_DAYS_MAX
from scraping_app.services.applications import EXTERNAL_FIELDS
from scraping_app.tracker import STAGE_TIMESTAMP_FIELDS, application_job

STAGE_TIMESTAMPS = ["status_changed_at", *STAGE_TIMESTAMP_FIELDS.values()]


class ScrapeResultSerializer(serializers.Serializer):
    """The scrape endpoint's 200 answer (for the API docs)."""

    run_id = serializers.IntegerField()
    status = serializers.CharField()
    counts = serializers.DictField(help_text="Per source: created, updated, skipped, fetched, requests, and error, "
                                             "over_budget, served_from_store, notes when they apply.")
    postings = serializers.ListField(child=serializers.DictField(), help_text="This run's matches, up to limit.")
    served_from_store = serializers.BooleanField()
    budget_exhausted = serializers.BooleanField(help_text="The run's time budget (SCRAPE_RUN_BUDGET_SECONDS) ran out "
                                                          "before every saved search ran.")
    skipped_searches = serializers.ListField(child=serializers.DictField(),
                                             help_text="The saved searches the budget left for the next run.")
    warnings = serializers.ListField(child=serializers.CharField())
    error = serializers.CharField(allow_null=True)
    duration_ms = serializers.FloatField(allow_null=True)

    def to_representation(self, instance):
        """`instance` is the scrape's run (a JobRun): its result holds the counts, postings and store fallback."""
        result = instance.result if isinstance(instance.result, dict) else {}
        return super().to_representation({
            "run_id": instance.pk,
            "status": instance.status,
            "counts": result.get("counts", {}),
            "postings": result.get("postings", []),
            "served_from_store": result.get("served_from_store", False),
            "budget_exhausted": result.get("budget_exhausted", False),
            "skipped_searches": result.get("skipped_searches", []),
            "warnings": instance.warnings or [],
            "error": instance.error or None,
            "duration_ms": instance.duration_ms,
        })


class OtherSourceSerializer(serializers.ModelSerializer):
    """A copy of the posting's job on another board."""

    source = serializers.CharField(source="source.name", read_only=True)

    class Meta:
        model = JobPosting
        fields = ["id", "source", "url", "apply_url"]
        read_only_fields = fields


class PostingSerializer(serializers.ModelSerializer):
    source = serializers.CharField(source="source.name", read_only=True)
    source_kind = serializers.CharField(source="source.kind", read_only=True)
    duplicate_of = serializers.IntegerField(source="duplicate_of_id", read_only=True, allow_null=True,
                                            help_text="The canonical posting this one copies; null: canonical.")
    other_sources = OtherSourceSerializer(source="duplicates", many=True, read_only=True,
                                          help_text="The copies of this job on other boards (of a canonical posting).")

    class Meta:
        model = JobPosting
        fields = ["id", "source", "source_kind", "source_job_id", "title", "company", "location", "is_remote",
                  "employment_type", "employment_type_normalized", "seniority", "salary_min", "salary_max",
                  "salary_currency", "salary_period", "salary_annual_min", "salary_annual_max", "tags", "url",
                  "apply_url", "posted_at", "first_seen_at", "last_seen_at", "fingerprint", "company_logo_url",
                  "duplicate_of", "other_sources"]


class PostingDetailSerializer(PostingSerializer):
    class Meta(PostingSerializer.Meta):
        fields = [*PostingSerializer.Meta.fields, "description_text", "other_locations", "expires_at", "requirements"]


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name"]


class TeamRecordSerializer(UnknownFieldsRejected, serializers.ModelSerializer):
    """A team record's input and output: unknown fields are 400; datetimes take a bare date as its midnight UTC."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: LenientDateTimeField,
        models.BooleanField: StrictBooleanField,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.IntegerField: StrictIntegerField,
        models.PositiveIntegerField: StrictIntegerField,
        models.PositiveSmallIntegerField: StrictIntegerField,
        models.BigIntegerField: StrictIntegerField,
        models.FloatField: StrictFloatField,
        models.DecimalField: StrictDecimalField,
    }


@extend_schema_field(SavedSearchFilterSerializer)
class SavedSearchFiltersField(serializers.Field):
    """A saved search's `filters` object: validated like GET /api/v1/jobs's filters, stored JSON-safe."""

    def to_internal_value(self, data) -> dict:
        return saved_search_filters_validate(data)

    def to_representation(self, value) -> dict:
        return value


# The filters a saved search also takes at the top level of its body ("remote": true), stored in `filters`.
SAVED_SEARCH_FLAT_FILTERS = tuple(SavedSearchFilterSerializer._declared_fields)


class SavedSearchSerializer(TeamRecordSerializer):
    """Every list filter but keyword and location lives in `filters`. A filter may come nested (`filters: {...}`)
    or flat (`"remote": true` beside `keyword`); flat ones are merged into `filters` (over the nested object, or
    over the stored filters when the body has none; a filter given both ways takes the flat value) and are not
    echoed back."""

    team = TeamIdField()
    sources = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=JobSource.objects.all())
    filters = SavedSearchFiltersField(required=False)
    alert_emails = serializers.ListField(
        child=serializers.EmailField(max_length=254), required=False, max_length=50,
        help_text="Where digests go; empty: the team members' addresses.")

    class Meta:
        model = SavedSearch
        fields = ["id", "team", "keyword", "location", "limit", "sources", "filters", "alert", "alert_emails",
                  "last_alerted_at", "active", "created_at"]
        read_only_fields = ["last_alerted_at"]
        extra_kwargs = {"limit": {"min_value": 1, "max_value": 100}}

    def get_fields(self):
        fields = super().get_fields()
        for name, field in SavedSearchFilterSerializer._declared_fields.items():
            fields[name] = type(field)(*field._args, **{**field._kwargs, "write_only": True})
        return fields

    def validate(self, attrs: dict) -> dict:
        flat = {name: attrs.pop(name) for name in SAVED_SEARCH_FLAT_FILTERS if name in attrs}
        if not flat:
            return attrs
        flat = saved_search_filters_dump(SavedSearchFilterSerializer().validate(flat))
        if "filters" in attrs:
            base = attrs["filters"]
        else:
            base = dict(self.instance.filters or {}) if self.instance is not None else {}
        attrs["filters"] = {**base, **flat}  # a filter given both ways: the flat one wins
        return attrs


class StageChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApplicationStageChange
        fields = ["id", "from_status", "to_status", "changed_at", "changed_by", "note"]
        read_only_fields = fields


class ContactSerializer(TeamRecordSerializer):
    class Meta:
        model = Contact
        fields = ["id", "application", "name", "role", "email", "phone", "url", "notes", "created_at"]
        read_only_fields = ["application"]


class InterviewSerializer(TeamRecordSerializer):
    class Meta:
        model = Interview
        fields = ["id", "application", "scheduled_at", "kind", "notes", "created_at"]
        read_only_fields = ["application"]


class JobApplicationSerializer(TeamRecordSerializer):
    """An application to a scraped `posting`, or (no posting) to a job found elsewhere (`external_title`, and
    `external_url`, `external_company`). `title`, `company` and `url` show the job either way. `status` moves
    along the tracker's stages (PATCH it, or POST …/move); the stage timestamps are the moves'."""

    team = TeamIdField()
    posting = serializers.PrimaryKeyRelatedField(queryset=JobPosting.objects.all(), required=False,
                                                 allow_null=True, help_text="Empty for a job found elsewhere.")
    title = serializers.SerializerMethodField()
    company = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = JobApplication
        fields = ["id", "team", "posting", "external_url", "external_title", "external_company", "title",
                  "company", "url", "status", *STAGE_TIMESTAMPS, "salary_expected", "offer_salary",
                  "offer_currency", "offer_period", "offer_notes", "follow_up_at", "notes", "created_by_rule",
                  "created_at", "updated_at"]
        read_only_fields = ["created_by_rule", *STAGE_TIMESTAMPS]
        extra_kwargs = {"external_title": {"allow_blank": False}}
        validators = []  # (team, posting) is unique: a second application is a 409 from the view, not a 400

    def validate(self, attrs: dict) -> dict:
        # A new application's posting comes alone (the document's oneOf): an external field beside it, even a
        # blank one, is a 400. (Once it exists, the service answers for its fixed posting.)
        if self.instance is None and attrs.get("posting") is not None:
            sent = sorted(name for name in EXTERNAL_FIELDS if name in attrs)
            if sent:
                raise serializers.ValidationError({name: ["Not with a posting: this field describes a job found "
                                                          "elsewhere."] for name in sent})
        return attrs

    @extend_schema_field(serializers.CharField())
    def get_title(self, application: JobApplication) -> str:
        return application_job(application=application).title

    @extend_schema_field(serializers.CharField())
    def get_company(self, application: JobApplication) -> str:
        return application_job(application=application).company

    @extend_schema_field(serializers.CharField())
    def get_url(self, application: JobApplication) -> str:
        return application_job(application=application).url


class JobApplicationDetailSerializer(JobApplicationSerializer):
    """One application with its stage history (oldest first), contacts and interviews."""

    history = StageChangeSerializer(source="stage_changes", many=True, read_only=True)
    contacts = ContactSerializer(many=True, read_only=True)
    interviews = InterviewSerializer(many=True, read_only=True)

    class Meta(JobApplicationSerializer.Meta):
        fields = [*JobApplicationSerializer.Meta.fields, "history", "contacts", "interviews"]


class ApplicationMoveSerializer(UnknownFieldsRejected, serializers.Serializer):
    status = serializers.ChoiceField(choices=JobApplication.Status.choices)
    note = StrictCharField(required=False, allow_blank=True, max_length=2000, default="",
                           help_text="Kept with the move in the history.")


class AutomationRuleSerializer(TeamRecordSerializer):
    team = TeamIdField()
    include_keywords = serializers.ListField(child=StrictCharField(max_length=100), required=False)
    exclude_keywords = serializers.ListField(child=StrictCharField(max_length=100), required=False)
    locations = serializers.ListField(child=StrictCharField(max_length=100), required=False)

    class Meta:
        model = AutomationRule
        fields = ["id", "team", "name", "include_keywords", "exclude_keywords", "locations", "remote_only",
                  "min_salary", "auto_shortlist", "follow_up_days", "active", "last_run_at", "created_at"]
        read_only_fields = ["last_run_at"]
        extra_kwargs = {"min_salary": {"help_text": "Annual, in SALARY_BASE_CURRENCY (default USD), compared with "
                                                    "each posting's normalised annual salary; a posting without one "
                                                    "does not match."}}


class AutomationPreviewPostingSerializer(PostingSerializer):
    already_tracked = serializers.BooleanField(source="tracked", help_text="The team has an application for it.")

    class Meta(PostingSerializer.Meta):
        fields = [*PostingSerializer.Meta.fields, "already_tracked"]


class AutomationPreviewSerializer(serializers.Serializer):
    """What a rule's next run would do (GET /api/v1/automation-rules/<id>/preview); nothing is written."""

    rule_id = serializers.IntegerField(source="rule.pk")
    first_run = serializers.BooleanField(help_text="The rule has never run: it matches the whole store, capped.")
    matched = serializers.IntegerField(help_text="Postings the run would match.")
    already_tracked = serializers.IntegerField(help_text="Of those, postings the team already has applications for.")
    would_shortlist = serializers.IntegerField(help_text="Applications the run would create (0 without "
                                                         "auto_shortlist).")
    cap = serializers.IntegerField(allow_null=True, help_text="AUTOMATION_FIRST_RUN_CAP on a first run; null: no cap.")
    capped = serializers.BooleanField(help_text="The cap would leave matches out.")
    left_out = serializers.IntegerField(help_text="Matches the cap would leave out (for good).")
    postings = AutomationPreviewPostingSerializer(many=True, help_text="The first matches, newest first.")


class FollowUpSerializer(serializers.ModelSerializer):
    team = serializers.IntegerField(source="application.team_id", read_only=True)
    posting = serializers.IntegerField(source="application.posting_id", read_only=True)
    posting_title = serializers.CharField(source="application.posting.title", read_only=True)
    status = serializers.SerializerMethodField()
    recipients = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = FollowUp
        fields = ["id", "application", "team", "posting", "posting_title", "status", "due_at", "message", "recipients",
                  "emailed_at", "done_at", "done_by", "snooze_count", "created_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=FOLLOW_UP_STATUSES))
    def get_status(self, follow_up: FollowUp) -> str:
        return follow_up_status(follow_up=follow_up)


class FollowUpSnoozeSerializer(UnknownFieldsRejected, serializers.Serializer):
    """Exactly one of `days` and `until` (the view's document says so with a oneOf)."""

    days = StrictIntegerField(required=False, min_value=1, max_value=SNOOZE_DAYS_MAX)
    until = LenientDateTimeField(required=False)

    def validate(self, attrs: dict) -> dict:
        if ("days" in attrs) == ("until" in attrs):
            raise serializers.ValidationError("Give exactly one of days and until.")
        if "until" in attrs and attrs["until"] <= timezone.now():
            raise serializers.ValidationError({"until": ["Use a time in the future."]})
        return attrs
