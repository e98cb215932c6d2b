"""Reads. The API, admin and commands all go through these."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import F, Q, QuerySet

from scraping_app.models import AutomationRule, JobApplication, JobPosting, JobSource, SavedSearch, Team


def team_get(*, team_id: int) -> Team | None:
    return Team.objects.filter(pk=team_id).first()


def teams_for_user(*, user) -> QuerySet[Team]:
    """Staff see every team; others the teams they belong to; an anonymous user none."""
    teams = Team.objects.all()
    if not user.is_authenticated:
        return teams.none()
    return teams if user.is_staff else teams.filter(members=user)


def team_for_user(*, user, team_id: int) -> Team | None:
    """The team if it exists and the user may use it, else None (the API's 400 "Unknown team.")."""
    return teams_for_user(user=user).filter(pk=team_id).first()


def saved_searches_active(*, team: Team | None) -> QuerySet[SavedSearch]:
    """In the order a scrape runs them: the least recently scraped first (never scraped before all), then by id,
    so a run whose time budget runs out does not skip the same searches every time."""
    searches = (SavedSearch.objects.filter(active=True).prefetch_related("sources")
                .order_by(F("last_scraped_at").asc(nulls_first=True), "id"))
    return searches if team is None else searches.filter(team=team)


def saved_searches_count(*, team: Team, exclude_id: int | None = None) -> int:
    """How many saved searches (active or not) the team keeps, leaving out `exclude_id`."""
    searches = SavedSearch.objects.filter(team=team)
    return (searches if exclude_id is None else searches.exclude(pk=exclude_id)).count()


def sources_enabled() -> QuerySet[JobSource]:
    return JobSource.objects.filter(enabled=True)


def source_list() -> QuerySet[JobSource]:
    return JobSource.objects.order_by("id")


def postings_matching(*, queryset: QuerySet[JobPosting] | None = None, keywords: Iterable[str] = (),
                      locations: Iterable[str] = (), exclude_keywords: Iterable[str] = ()) -> QuerySet[JobPosting]:
    """The one keyword and location filter of stored postings (the postings list, the scrape's stored fallback
    and automation rules all use it).

    A keyword matches the title, company or description, case-insensitively; a location matches the posting's
    location case-insensitively, and "remote" matches every posting with `is_remote`. A posting is kept when it
    matches any of `keywords` (when given), any of `locations` (when given), and none of `exclude_keywords`.
    """
    postings = JobPosting.objects.all() if queryset is None else queryset
    keywords, locations = list(keywords), list(locations)
    if keywords:
        postings = postings.filter(_any_of(_keyword_q(word) for word in keywords))
    if locations:
        postings = postings.filter(_any_of(_location_q(place) for place in locations))
    for word in exclude_keywords:
        postings = postings.exclude(_keyword_q(word))
    return postings


def _keyword_q(keyword: str) -> Q:
    return Q(title__icontains=keyword) | Q(company__icontains=keyword) | Q(description_text__icontains=keyword)


def _location_q(location: str) -> Q:
    if location.strip().lower() == "remote":
        return Q(is_remote=True)
    return Q(location__icontains=location.strip())


def _any_of(parts: Iterable[Q]) -> Q:
    combined = Q(pk__in=[])  # matches nothing: the identity of OR
    for part in parts:
        combined |= part
    return combined


def postings_list(*, keyword: str | None = None, location: str | None = None, remote: bool | None = None,
                  source: str | None = None, posted_after: datetime | None = None) -> QuerySet[JobPosting]:
    # Newest first; postings without a date last on every database (PostgreSQL sorts NULLs first by default).
    postings = JobPosting.objects.select_related("source").order_by(F("posted_at").desc(nulls_last=True), "-id")
    postings = postings_matching(queryset=postings, keywords=[keyword] if keyword else [],
                                 locations=[location] if location else [])
    if remote is not None:
        postings = postings.filter(is_remote=remote)
    if source:
        is_id = source.isascii() and source.isdigit() and len(source) <= 18  # "²".isdigit() is true too
        postings = postings.filter(Q(source__pk=int(source)) if is_id else
                                   Q(source__kind__iexact=source) | Q(source__name__iexact=source))
    if posted_after is not None:
        postings = postings.filter(posted_at__gte=posted_after)
    return postings


def posting_get(*, posting_id: int) -> JobPosting | None:
    return JobPosting.objects.select_related("source").filter(pk=posting_id).first()


def postings_by_ids(*, ids: list[int]) -> list[JobPosting]:
    """In the given order."""
    found = JobPosting.objects.select_related("source").in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]


def posting_summary(*, posting: JobPosting) -> dict:
    """The JSON a scrape run keeps in its result (and the scrape endpoint returns)."""
    return {
        "id": posting.pk,
        "source": posting.source.name,
        "source_job_id": posting.source_job_id,
        "title": posting.title,
        "company": posting.company,
        "location": posting.location,
        "is_remote": posting.is_remote,
        "employment_type": posting.employment_type,
        "salary_min": None if posting.salary_min is None else str(posting.salary_min),
        "salary_max": None if posting.salary_max is None else str(posting.salary_max),
        "salary_currency": posting.salary_currency,
        "salary_period": posting.salary_period,
        "url": posting.url,
        "apply_url": posting.apply_url,
        "posted_at": posting.posted_at.isoformat() if posting.posted_at else None,
    }


def _team_scoped(queryset: QuerySet, user) -> QuerySet:
    return queryset if user.is_staff else queryset.filter(team__members=user).distinct()


def saved_searches_for_user(*, user, team: Team | None = None) -> QuerySet[SavedSearch]:
    searches = _team_scoped(SavedSearch.objects.prefetch_related("sources"), user)
    return searches if team is None else searches.filter(team=team)


def job_applications_for_user(*, user, team: Team | None = None) -> QuerySet[JobApplication]:
    applications = _team_scoped(JobApplication.objects.select_related("posting", "posting__source"), user)
    return applications if team is None else applications.filter(team=team)


def automation_rules_for_user(*, user, team: Team | None = None) -> QuerySet[AutomationRule]:
    rules = _team_scoped(AutomationRule.objects.all(), user)
    return rules if team is None else rules.filter(team=team)
