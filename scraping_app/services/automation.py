"""Automation rules: match postings new since a rule's last run and auto-shortlist them. Idempotent: one
application per (team, posting) is a unique constraint, so a repeated or overlapping run changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from scraping_app import selectors
from scraping_app.models import AutomationRule, JobApplication, JobPosting, Team
from scraping_app.services.common import job_atomic, job_checkpoint

# Postings are stamped first_seen_at before their transaction commits; look back this far so a scrape that
# committed just after a rule's last run is not missed (the unique constraint keeps the overlap harmless).
LATE_COMMIT_GRACE = timedelta(minutes=10)


def automation_run(*, team: Team | None = None, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    rules = AutomationRule.objects.filter(active=True).select_related("team")
    if team is not None:
        rules = rules.filter(team=team)
    totals = {"rules": 0, "matched": 0, "shortlisted": 0, "already_tracked": 0}
    for rule in rules:
        job_checkpoint()
        matched, shortlisted = automation_rule_apply(rule=rule, now=now)
        totals["rules"] += 1
        totals["matched"] += matched
        totals["shortlisted"] += shortlisted
        totals["already_tracked"] += matched - shortlisted if rule.auto_shortlist else 0
    return totals


def automation_rule_apply(*, rule: AutomationRule, now: datetime) -> tuple[int, int]:
    """Returns (postings matched, applications created)."""
    with job_atomic():
        postings = list(automation_rule_candidates(rule=rule).values_list("pk", flat=True))
        created = 0
        if rule.auto_shortlist and postings:
            tracked = set(JobApplication.objects.filter(team=rule.team, posting_id__in=postings)
                          .values_list("posting_id", flat=True))
            new = [pk for pk in postings if pk not in tracked]
            JobApplication.objects.bulk_create(
                [JobApplication(team=rule.team, posting_id=pk, status=JobApplication.Status.SHORTLISTED,
                                follow_up_at=now + timedelta(days=rule.follow_up_days), created_by_rule=rule,
                                notes=f"Auto-shortlisted by rule '{rule.name}'.") for pk in new],
                ignore_conflicts=True)  # a racing run may have inserted some; they stay single
            created = len(new)
        AutomationRule.objects.filter(pk=rule.pk).update(last_run_at=now)
    return len(postings), created


def automation_rule_candidates(*, rule: AutomationRule) -> QuerySet[JobPosting]:
    """The postings `rule` matches among those first seen since its last run (all of them on its first run)."""
    postings = JobPosting.objects.all()
    if rule.last_run_at is not None:
        postings = postings.filter(first_seen_at__gt=rule.last_run_at - LATE_COMMIT_GRACE)
    postings = selectors.postings_matching(queryset=postings, keywords=rule.include_keywords or [],
                                           locations=rule.locations or [],
                                           exclude_keywords=rule.exclude_keywords or [])
    if rule.remote_only:
        postings = postings.filter(is_remote=True)
    if rule.min_salary is not None:
        postings = postings.filter(Q(salary_max__gte=rule.min_salary) | Q(salary_min__gte=rule.min_salary))
    return postings.order_by("pk")
