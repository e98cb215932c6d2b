"""Saved-search digests: one email per team (per recipient list) with each search's new matches.

A search's new matches are the postings matching all its filters first seen after `last_alerted_at` (never
alerted: after the search was created). Each search's `last_alerted_at` is claimed (a conditional update from the
value read to the newest included posting's first_seen_at) before the email is sent, so a concurrent sender (the
admin's "Send digest now" beside a job) never sends the same postings twice. A failed send puts the old value
back, logs a warning and makes the run PARTIAL: the next run sends the digest.

Late commits: a posting is stamped first_seen_at before its scrape's transaction commits, so a digest never looks
past the start of a scrape still running (other than its own run): a posting committed after the digest read is
stamped after that bound and goes in the next digest instead of being skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone

from scheduler_app.context import current_job_context
from scraping_app import selectors
from scraping_app.models import JobPosting, SavedSearch, Team
from scraping_app.services.common import job_atomic, job_checkpoint, job_mark_partial

logger = logging.getLogger("scraping_app")

TEMPLATE = "scraping_app/email/saved_search_digest"


@dataclass
class SearchDigest:
    search: SavedSearch
    postings: list[dict]  # what the email lists: title, company, location, salary, url
    total: int  # every new match; the email lists up to SAVED_SEARCH_DIGEST_MAX of them
    mark: datetime  # the newest included posting's first_seen_at: the search's next last_alerted_at

    @property
    def more(self) -> int:
        return self.total - len(self.postings)

    @property
    def label(self) -> str:
        return f"{self.search.keyword} in {self.search.location or 'anywhere'}"


def saved_search_digests_send(*, team: Team | None = None, alert: str | None,
                              search_ids: list[int] | None = None, now: datetime | None = None) -> dict:
    """Email the new matches of the active saved searches whose alert mode is `alert` (None: any mode, with
    `search_ids`: the admin's "Send digest now"), of `team` (None: every team). Returns {"emails", "postings",
    "failed"}: emails sent, postings they listed, emails that failed (kept for the next run)."""
    now = now or timezone.now()
    ctx = current_job_context()
    until = selectors.postings_settled_until(now=now, exclude_run_id=ctx.run_id if ctx is not None else None)
    cap = max(int(getattr(settings, "SAVED_SEARCH_DIGEST_MAX", 50)), 1)
    groups: dict[tuple[int, tuple[str, ...]], list[SearchDigest]] = {}
    for search in selectors.saved_searches_for_digest(team=team, alert=alert, search_ids=search_ids):
        job_checkpoint()
        digest = _search_digest(search=search, until=until, cap=cap)
        if digest is None:
            continue
        recipients = tuple(search.alert_emails or selectors.team_member_emails(team=search.team))
        if not recipients:
            logger.warning("Saved search %s has new matches but no recipient (no alert_emails, no member "
                           "address)", search.pk)
            continue
        groups.setdefault((search.team_id, recipients), []).append(digest)
    counts = {"emails": 0, "postings": 0, "failed": 0}
    for (_team_id, recipients), digests in groups.items():
        job_checkpoint()
        claimed = _claim(digests)
        if not claimed:
            continue
        try:
            _send(team=claimed[0].search.team, digests=claimed, recipients=list(recipients))
        except Exception as exc:  # noqa: BLE001 - an SMTP error: keep the digest for the next run
            _release(claimed)
            message = (f"Saved-search digest for team {claimed[0].search.team} failed to send "
                       f"({type(exc).__name__}: {exc}); it is sent by the next run.")
            logger.warning(message)
            job_mark_partial(message)
            counts["failed"] += 1
            continue
        counts["emails"] += 1
        counts["postings"] += sum(len(digest.postings) for digest in claimed)
    return counts


def _search_digest(*, search: SavedSearch, until: datetime, cap: int) -> SearchDigest | None:
    try:
        matches = selectors.saved_search_new_matches(search=search, until=until)
        listed = list(matches[:cap])
    except ValueError as exc:  # stored filters written around the API and the admin's validation
        message = f"Saved search {search.pk} has invalid filters ({exc}); no digest for it."
        logger.warning(message)
        job_mark_partial(message)
        return None
    if not listed:
        return None
    total = len(listed) if len(listed) < cap else matches.count()
    return SearchDigest(search=search, postings=[_posting_line(p) for p in listed], total=total,
                        mark=listed[0].first_seen_at)


def _claim(digests: list[SearchDigest]) -> list[SearchDigest]:
    """Advance each search's last_alerted_at from the value read to its digest's mark; a search another sender
    advanced meanwhile is left out (its postings went in that sender's email)."""
    claimed = []
    with job_atomic():
        for digest in digests:
            if SavedSearch.objects.filter(pk=digest.search.pk, last_alerted_at=digest.search.last_alerted_at
                                          ).update(last_alerted_at=digest.mark):
                claimed.append(digest)
    return claimed


def _release(digests: list[SearchDigest]) -> None:
    """Undo the claims of a failed send. Not fenced: it only puts back what this run moved, and only while
    nobody has moved it since."""
    for digest in digests:
        SavedSearch.objects.filter(pk=digest.search.pk, last_alerted_at=digest.mark).update(
            last_alerted_at=digest.search.last_alerted_at)


def _send(*, team: Team, digests: list[SearchDigest], recipients: list[str]) -> None:
    context = {"team": team, "digests": digests}
    total = sum(digest.total for digest in digests)
    email = EmailMultiAlternatives(
        subject=f"{total} new job{'s' if total != 1 else ''} for {team.name}'s saved searches",
        body=render_to_string(f"{TEMPLATE}.txt", context), from_email=settings.DEFAULT_FROM_EMAIL, to=recipients)
    email.attach_alternative(render_to_string(f"{TEMPLATE}.html", context), "text/html")
    email.send()


def _posting_line(posting: JobPosting) -> dict:
    return {"title": posting.title, "company": posting.company, "location": posting.location,
            "salary": _salary(posting), "url": posting.url or posting.apply_url}


def _salary(posting: JobPosting) -> str:
    amounts = [f"{amount:,.0f}" for amount in (posting.salary_min, posting.salary_max) if amount is not None]
    if not amounts:
        return ""
    text = amounts[0] if len(set(amounts)) == 1 else f"{amounts[0]}–{amounts[-1]}"
    return " ".join(part for part in (text, posting.salary_currency, f"a {posting.salary_period}"
                                      if posting.salary_period else "") if part)
