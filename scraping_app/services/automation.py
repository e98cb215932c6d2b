"""Automation rules: match postings new since a rule's last run and auto-shortlist them. Idempotent: one
application per (team, posting) is a unique constraint, so a repeated or overlapping run changes nothing.

A rule's first run (no last_run_at) matches the whole store, so it shortlists at most AUTOMATION_FIRST_RUN_CAP
postings, the newest first; the rest are left out for good (later runs look only at newer postings), and the run
says so: a warning, and the run ends PARTIAL. What a run would do is read from selectors.automation_rule_plan,
which the API's preview reads too."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from scraping_app import selectors
from scraping_app.models import AutomationRule, JobApplication, Team
from scraping_app.services.applications import applications_first_stage_record
from scraping_app.services.common import job_atomic, job_checkpoint, job_mark_partial

logger = logging.getLogger("scraping_app")


@dataclass(frozen=True)
class RuleOutcome:
    matched: int  # postings the rule matched
    shortlisted: int  # applications this run created
    left_out: int  # untracked matches the first-run cap left out


def automation_run(*, team: Team | None = None, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    rules = AutomationRule.objects.filter(active=True).select_related("team")
    if team is not None:
        rules = rules.filter(team=team)
    totals = {"rules": 0, "matched": 0, "shortlisted": 0, "already_tracked": 0, "left_out_by_cap": 0}
    for rule in rules:
        job_checkpoint()
        outcome = automation_rule_apply(rule=rule, now=now)
        totals["rules"] += 1
        totals["matched"] += outcome.matched
        totals["shortlisted"] += outcome.shortlisted
        totals["already_tracked"] += (outcome.matched - outcome.shortlisted - outcome.left_out
                                      if rule.auto_shortlist else 0)
        totals["left_out_by_cap"] += outcome.left_out
    return totals


def automation_rule_apply(*, rule: AutomationRule, now: datetime) -> RuleOutcome:
    plan = selectors.automation_rule_plan(rule=rule)
    with job_atomic():
        matched = plan.matches.count()
        new = plan.shortlist_ids()
        left_out = plan.untracked.count() - len(new) if plan.cap is not None and len(new) == plan.cap else 0
        JobApplication.objects.bulk_create(
            [JobApplication(team=rule.team, posting_id=pk, status=JobApplication.Status.SHORTLISTED,
                            status_changed_at=now, follow_up_at=now + timedelta(days=rule.follow_up_days),
                            created_by_rule=rule, notes=f"Auto-shortlisted by rule '{rule.name}'.") for pk in new],
            ignore_conflicts=True)  # a racing run may have inserted some; they stay single
        # The first history row of each one inserted here: skipped rows already have theirs.
        inserted = JobApplication.objects.filter(team=rule.team, posting_id__in=new, created_by_rule=rule,
                                                 stage_changes__isnull=True).values_list("pk", flat=True)
        applications_first_stage_record(application_ids=list(inserted), status=JobApplication.Status.SHORTLISTED,
                                        now=now)
        AutomationRule.objects.filter(pk=rule.pk).update(last_run_at=now)
    if left_out:
        _report_cap(rule=rule, shortlisted=len(new), left_out=left_out, cap=plan.cap)
    return RuleOutcome(matched=matched, shortlisted=len(new), left_out=left_out)


def _report_cap(*, rule: AutomationRule, shortlisted: int, left_out: int, cap: int) -> None:
    message = (f"Automation rule '{rule.name}' (id {rule.pk}, team {rule.team_id}) first run: shortlisted the "
               f"{shortlisted} newest matches and left out {left_out} (AUTOMATION_FIRST_RUN_CAP={cap}).")
    logger.warning(message)
    job_mark_partial(message)
