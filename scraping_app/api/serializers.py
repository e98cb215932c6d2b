"""The job-search API's output shapes, and the team records' serializers (their input and output alike).

Each view's own input serializer (query filters, the scrape's parameters) is nested in the view.
"""

from __future__ import annotations

from django.db import models
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
from scraping_app.models import AutomationRule, JobApplication, JobPosting, JobSource, SavedSearch, Team


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


class PostingSerializer(serializers.ModelSerializer):
    source = serializers.CharField(source="source.name", read_only=True)
    source_kind = serializers.CharField(source="source.kind", read_only=True)

    class Meta:
        model = JobPosting
        fields = ["id", "source", "source_kind", "source_job_id", "title", "company", "location", "is_remote",
                  "employment_type", "employment_type_normalized", "seniority", "salary_min", "salary_max",
                  "salary_currency", "salary_period", "salary_annual_min", "salary_annual_max", "tags", "url",
                  "apply_url", "posted_at", "first_seen_at", "last_seen_at", "fingerprint"]


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
