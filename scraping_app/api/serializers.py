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
from scraping_app.models import AutomationRule, FollowUp, JobApplication, JobPosting, JobSource, SavedSearch, Team
from scraping_app.selectors import FOLLOW_UP_STATUSES, follow_up_status
from scraping_app.services import SNOOZE_DAYS_MAX


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
                  "apply_url", "posted_at", "first_seen_at", "last_seen_at", "fingerprint", "duplicate_of",
                  "other_sources"]


class PostingDetailSerializer(PostingSerializer):
    class Meta(PostingSerializer.Meta):
        fields = [*PostingSerializer.Meta.fields, "description_text"]


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


class SavedSearchSerializer(TeamRecordSerializer):
    team = TeamIdField()
    sources = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=JobSource.objects.all())

    class Meta:
        model = SavedSearch
        fields = ["id", "team", "keyword", "location", "limit", "sources", "active", "created_at"]
        extra_kwargs = {"limit": {"min_value": 1, "max_value": 100}}


class JobApplicationSerializer(TeamRecordSerializer):
    team = TeamIdField()
    posting = serializers.PrimaryKeyRelatedField(queryset=JobPosting.objects.all())
    posting_title = serializers.CharField(source="posting.title", read_only=True)

    class Meta:
        model = JobApplication
        fields = ["id", "team", "posting", "posting_title", "status", "applied_at", "follow_up_at", "notes",
                  "created_by_rule", "created_at", "updated_at"]
        read_only_fields = ["created_by_rule"]
        validators = []  # (team, posting) is unique: a second application is a 409 from the view, not a 400


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
