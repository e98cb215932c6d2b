"""Input validation and output shapes for the job-search API."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scraping_app import selectors
from scraping_app.models import AutomationRule, JobApplication, JobPosting, JobSource, SavedSearch, Team
from scraping_app.services.scrape import KEYWORD_MAX_LENGTH, LOCATION_MAX_LENGTH


@extend_schema_field(OpenApiTypes.DATETIME)
class LenientDateTimeField(serializers.Field):
    """An ISO datetime, or a bare date meaning its midnight UTC."""

    def to_internal_value(self, data):
        value = parse_datetime(str(data)) if data else None
        if value is None and data and (day := parse_date(str(data))) is not None:
            value = datetime.combine(day, time.min)
        if value is None:
            raise serializers.ValidationError("Use an ISO 8601 date or datetime, e.g. 2026-11-01.")
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class ScrapeInputSerializer(serializers.Serializer):
    keyword = serializers.CharField(required=False, max_length=KEYWORD_MAX_LENGTH)
    location = serializers.CharField(required=False, allow_blank=True, max_length=LOCATION_MAX_LENGTH)
    limit = serializers.IntegerField(required=False, default=25, min_value=1, max_value=100)
    team_id = serializers.IntegerField(required=False)
    wait = serializers.FloatField(required=False, min_value=0, max_value=600)


class ScrapeResultSerializer(serializers.Serializer):
    """The scrape endpoint's 200 answer (for the API docs)."""

    run_id = serializers.IntegerField()
    status = serializers.CharField()
    counts = serializers.DictField(help_text="Per source: created, updated, skipped, fetched, requests, and error, "
                                             "over_budget, served_from_store, notes when they apply.")
    postings = serializers.ListField(child=serializers.DictField(), help_text="This run's matches, up to limit.")
    served_from_store = serializers.BooleanField()
    warnings = serializers.ListField(child=serializers.CharField())
    error = serializers.CharField(allow_null=True)
    duration_ms = serializers.FloatField(allow_null=True)


class PostingFilterSerializer(serializers.Serializer):
    keyword = serializers.CharField(required=False, max_length=KEYWORD_MAX_LENGTH)
    location = serializers.CharField(required=False, max_length=LOCATION_MAX_LENGTH)
    remote = serializers.BooleanField(required=False, allow_null=True, default=None)
    source = serializers.CharField(required=False, max_length=100)
    posted_after = LenientDateTimeField(required=False)


class TeamFilterSerializer(serializers.Serializer):
    team_id = serializers.IntegerField(required=False)


class PostingSerializer(serializers.ModelSerializer):
    source = serializers.CharField(source="source.name", read_only=True)
    source_kind = serializers.CharField(source="source.kind", read_only=True)

    class Meta:
        model = JobPosting
        fields = ["id", "source", "source_kind", "source_job_id", "title", "company", "location", "is_remote",
                  "employment_type", "salary_min", "salary_max", "salary_currency", "salary_period", "tags", "url",
                  "apply_url", "posted_at", "first_seen_at", "last_seen_at", "fingerprint"]


class PostingDetailSerializer(PostingSerializer):
    class Meta(PostingSerializer.Meta):
        fields = [*PostingSerializer.Meta.fields, "description_text"]


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name"]


class UserTeamField(serializers.PrimaryKeyRelatedField):
    """A team the requesting user may use (staff: any); anything else is "Unknown team"."""

    default_error_messages = {"does_not_exist": "Unknown team", "incorrect_type": "Unknown team"}

    def get_queryset(self):
        return selectors.teams_for_user(user=self.context["request"].user)


class SavedSearchSerializer(serializers.ModelSerializer):
    team = UserTeamField()
    sources = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=JobSource.objects.all())

    class Meta:
        model = SavedSearch
        fields = ["id", "team", "keyword", "location", "limit", "sources", "active", "created_at"]
        extra_kwargs = {"limit": {"min_value": 1, "max_value": 100}}


class JobApplicationSerializer(serializers.ModelSerializer):
    team = UserTeamField()
    posting = serializers.PrimaryKeyRelatedField(queryset=JobPosting.objects.all())
    posting_title = serializers.CharField(source="posting.title", read_only=True)

    class Meta:
        model = JobApplication
        fields = ["id", "team", "posting", "posting_title", "status", "applied_at", "follow_up_at", "notes",
                  "created_by_rule", "created_at", "updated_at"]
        read_only_fields = ["created_by_rule"]


class AutomationRuleSerializer(serializers.ModelSerializer):
    team = UserTeamField()
    include_keywords = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    exclude_keywords = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    locations = serializers.ListField(child=serializers.CharField(max_length=100), required=False)

    class Meta:
        model = AutomationRule
        fields = ["id", "team", "name", "include_keywords", "exclude_keywords", "locations", "remote_only",
                  "min_salary", "auto_shortlist", "follow_up_days", "active", "last_run_at", "created_at"]
        read_only_fields = ["last_run_at"]
