"""Saved-search digests: new matches only, all filters applied, one email per team, never twice, kept on failure."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from scheduler_app.models import JobRun
from scheduler_app.services import job_run
from scraping_app.models import JobPosting, SavedSearch
from scraping_app.services import saved_search_digests_send
from scraping_app.services.alerts import SearchDigest, _claim
from tests.scraping_app.conftest import make_source
from tests.scraping_app.services.conftest import posting

pytestmark = pytest.mark.django_db

DAILY = SavedSearch.Alert.DAILY


class FailingBackend:
    """An email backend whose SMTP server refuses every message."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


def _search(team, *, keyword="python", location="", alert=DAILY, **fields) -> SavedSearch:
    return SavedSearch.objects.create(team=team, keyword=keyword, location=location, alert=alert, **fields)


def _new(search: SavedSearch, n: int, minutes: int = 1, **fields) -> JobPosting:
    """A posting first seen `minutes` after the search was made."""
    at = search.created_at + timedelta(minutes=minutes)
    return posting(n, first_seen_at=at, last_seen_at=at, url=f"https://example.com/jobs/{n}", **fields)


def _later(search: SavedSearch, hours: int = 1):
    return search.created_at + timedelta(hours=hours)


MATCHING = dict(title="Senior Python developer", company="Acme Inc.", location="Remote", is_remote=True,
                employment_type_normalized="full_time", seniority="senior", salary_min=Decimal("100000"),
                salary_max=Decimal("120000"), salary_currency="USD", salary_period="year",
                salary_annual_max=Decimal("120000"), tags=["Django", "aws"])


def test_a_digest_lists_only_the_new_matches_of_all_the_filters(team):
    search = _search(team, location="remote", filters={
        "remote": True, "salary_min": "90000.00", "employment_type": ["full_time"], "seniority": ["senior"],
        "tags": ["django"], "company": "acme", "source": "sample", "posted_within_hours": 48})
    now = timezone.now()
    posted = {"posted_at": now - timedelta(hours=2)}
    old = posting(1, **MATCHING, **posted, first_seen_at=search.created_at - timedelta(minutes=1))
    match = _new(search, 2, **MATCHING, **posted)
    misses = [
        _new(search, 3, **{**MATCHING, "is_remote": False, "location": "Berlin"}, **posted),
        _new(search, 4, **{**MATCHING, "salary_annual_max": Decimal("80000")}, **posted),
        _new(search, 5, **{**MATCHING, "employment_type_normalized": "contract"}, **posted),
        _new(search, 6, **{**MATCHING, "seniority": "junior"}, **posted),
        _new(search, 7, **{**MATCHING, "tags": ["rust"]}, **posted),
        _new(search, 8, **{**MATCHING, "company": "Globex"}, **posted),
        _new(search, 9, **MATCHING, posted_at=now - timedelta(days=5)),
        _new(search, 10, **{**MATCHING, "title": "Senior Go developer"}, **posted),
        _new(search, 11, **MATCHING, **posted, duplicate_of=old),  # a copy of a posting on another board
    ]

    sent = saved_search_digests_send(alert=DAILY, now=now + timedelta(minutes=5))

    assert sent == {"emails": 1, "postings": 1, "failed": 0}
    [email] = mail.outbox
    assert email.to == ["ann@example.com"]  # the team's members with an address (bob has none)
    assert email.subject == "1 new job for Searchers's saved searches"
    assert "python in remote: 1 new" in email.body
    assert "- Senior Python developer at Acme Inc., Remote (100,000–120,000 USD a year)" in email.body
    assert "https://example.com/jobs/2" in email.body
    assert all(f"/jobs/{p.source_job_id}" not in email.body for p in [old, *misses])
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html" and '<a href="https://example.com/jobs/2">Senior Python developer</a>' in html
    search.refresh_from_db()
    assert search.last_alerted_at == match.first_seen_at


def test_no_email_when_nothing_is_new_and_a_posting_is_never_sent_twice(team):
    search = _search(team)
    assert saved_search_digests_send(alert=DAILY, now=_later(search)) == {"emails": 0, "postings": 0, "failed": 0}
    assert mail.outbox == [] and SavedSearch.objects.get().last_alerted_at is None

    first = _new(search, 1, minutes=1)
    assert saved_search_digests_send(alert=DAILY, now=_later(search))["emails"] == 1
    assert saved_search_digests_send(alert=DAILY, now=_later(search, 2))["emails"] == 0
    second = _new(search, 2, minutes=90)
    assert saved_search_digests_send(alert=DAILY, now=_later(search, 3)) == {"emails": 1, "postings": 1, "failed": 0}

    assert len(mail.outbox) == 2
    assert "/jobs/1" in mail.outbox[0].body and "/jobs/1" not in mail.outbox[1].body
    assert "/jobs/2" in mail.outbox[1].body
    assert SavedSearch.objects.get().last_alerted_at == second.first_seen_at > first.first_seen_at


def test_only_the_searches_of_the_alert_mode_and_team_are_sent(team):
    daily = _search(team, keyword="python")
    _search(team, keyword="developer", alert=SavedSearch.Alert.EACH_SCRAPE)
    _search(team, keyword="acme", alert=SavedSearch.Alert.OFF)
    _search(team, keyword="senior", active=False)
    _new(daily, 1)
    assert saved_search_digests_send(alert=DAILY, now=_later(daily))["emails"] == 1
    assert "python in anywhere: 1 new" in mail.outbox[0].body
    assert "developer in" not in mail.outbox[0].body and "acme in" not in mail.outbox[0].body


def test_a_failed_send_keeps_the_digest_for_the_next_run(team, settings):
    search = _search(team)
    _new(search, 1)
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    assert saved_search_digests_send(alert=DAILY, now=_later(search)) == {"emails": 0, "postings": 0, "failed": 1}
    assert SavedSearch.objects.get().last_alerted_at is None

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert saved_search_digests_send(alert=DAILY, now=_later(search, 2))["emails"] == 1
    assert saved_search_digests_send(alert=DAILY, now=_later(search, 3))["emails"] == 0
    assert len(mail.outbox) == 1 and "/jobs/1" in mail.outbox[0].body


def test_the_daily_job_sends_digests_and_a_failed_send_ends_it_partial(fake_redis, team, settings, caplog):
    search = _search(team)
    _new(search, 1, minutes=-30)  # created_at is now: a posting first seen since, before the run
    SavedSearch.objects.filter(pk=search.pk).update(created_at=search.created_at - timedelta(hours=1))
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"

    failed = job_run(job_id="check_follow_ups_task", trigger="cli")

    assert failed.status == JobRun.Status.PARTIAL
    assert failed.result["digests"] == {"emails": 0, "postings": 0}
    assert any("failed to send (SMTPServerDisconnected" in warning for warning in failed.warnings)
    assert "it is sent by the next run" in caplog.text
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    sent = job_run(job_id="check_follow_ups_task", trigger="cli")
    assert sent.status == JobRun.Status.SUCCEEDED
    assert sent.result == {"reminders_created": 0, "emails_sent": 0, "digests": {"emails": 1, "postings": 1}}
    assert len(mail.outbox) == 1


def test_one_email_per_team_and_recipient_list(team):
    one = _search(team, keyword="python")
    _search(team, keyword="developer")
    own = _search(team, keyword="senior", alert_emails=["lead@example.com", "cto@example.com"])
    _new(one, 1, **MATCHING)

    assert saved_search_digests_send(alert=DAILY, now=_later(one)) == {"emails": 2, "postings": 3, "failed": 0}

    by_to = {tuple(email.to): email for email in mail.outbox}
    assert set(by_to) == {("ann@example.com",), ("lead@example.com", "cto@example.com")}
    members = by_to[("ann@example.com",)].body
    assert "python in anywhere: 1 new" in members and "developer in anywhere: 1 new" in members
    assert "senior in anywhere" not in members and "senior in anywhere: 1 new" in by_to[tuple(own.alert_emails)].body


def test_the_cap_lists_the_newest_and_counts_the_rest(team, settings):
    settings.SAVED_SEARCH_DIGEST_MAX = 2
    search = _search(team)
    postings = [_new(search, n, minutes=n) for n in range(1, 6)]

    assert saved_search_digests_send(alert=DAILY, now=_later(search)) == {"emails": 1, "postings": 2, "failed": 0}

    body = mail.outbox[0].body
    assert "python in anywhere: 5 new" in body and "and 3 more" in body
    assert "/jobs/5" in body and "/jobs/4" in body and "/jobs/3" not in body
    assert mail.outbox[0].subject == "5 new jobs for Searchers's saved searches"
    assert SavedSearch.objects.get().last_alerted_at == postings[-1].first_seen_at
    assert saved_search_digests_send(alert=DAILY, now=_later(search, 2))["emails"] == 0  # the rest were counted


def test_a_posting_a_running_scrape_commits_late_goes_in_the_next_digest(team):
    search = _search(team)
    _new(search, 1, minutes=1)
    started = search.created_at + timedelta(minutes=2)
    scrape = JobRun.objects.create(job_id="scrape_jobs_task", lock_key="scrape_jobs_task", trigger="cli",
                                   status=JobRun.Status.RUNNING, started_at=started)
    late = _new(search, 2, minutes=3)  # stamped by the running scrape; imagine it still uncommitted

    assert saved_search_digests_send(alert=DAILY, now=_later(search))["postings"] == 1
    assert "/jobs/2" not in mail.outbox[0].body
    assert SavedSearch.objects.get().last_alerted_at < started

    JobRun.objects.filter(pk=scrape.pk).update(status=JobRun.Status.SUCCEEDED)
    assert saved_search_digests_send(alert=DAILY, now=_later(search, 2))["postings"] == 1
    assert "/jobs/2" in mail.outbox[1].body
    assert SavedSearch.objects.get().last_alerted_at == late.first_seen_at


def test_send_now_sends_the_chosen_searches_whatever_their_mode(team):
    chosen = _search(team, alert=SavedSearch.Alert.OFF)
    other = _search(team, keyword="developer")
    _new(chosen, 1)
    sent = saved_search_digests_send(alert=None, search_ids=[chosen.pk], now=_later(chosen))
    assert sent["emails"] == 1 and "developer in" not in mail.outbox[0].body
    other.refresh_from_db()
    assert other.last_alerted_at is None


def test_invalid_stored_filters_warn_and_skip_only_that_search(team, caplog):
    broken = _search(team, filters={"colour": "red"})  # written around the API's and the admin's validation
    fine = _search(team, keyword="developer")
    _new(fine, 1)
    assert saved_search_digests_send(alert=DAILY, now=_later(fine))["emails"] == 1
    assert f"Saved search {broken.pk} has invalid filters" in caplog.text


# -- the job entry points ------------------------------------------------------------------------------------------
def _scrape(team=None, **params) -> JobRun:
    return job_run(job_id="scrape_jobs_task", trigger="cli", team=team, params={"limit": 100, **params})


def test_a_saved_search_run_reports_the_matches_of_its_filters_and_sends_each_scrape_digests(fake_redis, team):
    make_source("sample")
    _search(team, keyword="engineer", limit=100, filters={"employment_type": ["contract"]},
            alert=SavedSearch.Alert.EACH_SCRAPE)
    _search(team, keyword="designer", filters={"employment_type": ["contract"]}, alert=DAILY)  # the daily job's

    first = _scrape(team=team)

    assert first.status == JobRun.Status.SUCCEEDED, first.warnings
    reported = JobPosting.objects.filter(pk__in=[p["id"] for p in first.result["postings"]])
    assert reported.count() == len(first.result["postings"]) > 0
    assert set(reported.values_list("employment_type_normalized", flat=True)) == {"contract"}
    assert JobPosting.objects.exclude(employment_type_normalized="contract").exists()  # the board sent others too
    [email] = mail.outbox
    assert first.result["digests"] == {"emails": 1, "postings": email.body.count("\n- ")}
    assert "engineer in anywhere" in email.body and "designer in" not in email.body
    listed = [line.strip() for line in email.body.splitlines() if line.startswith("  https://")]
    assert listed and set(JobPosting.objects.filter(url__in=listed)
                          .values_list("employment_type_normalized", flat=True)) == {"contract"}

    second = _scrape(team=team)  # the same postings again: nothing new
    assert second.result["digests"] == {"emails": 0, "postings": 0} and len(mail.outbox) == 1


def test_a_plain_keyword_run_sends_no_digest(fake_redis, team):
    make_source("sample")
    _search(team, keyword="engineer", alert=SavedSearch.Alert.EACH_SCRAPE)
    run = _scrape(keyword="engineer")
    assert run.status == JobRun.Status.SUCCEEDED and run.result["postings"]
    assert "digests" not in run.result and mail.outbox == []


def test_a_search_another_sender_advanced_meanwhile_is_not_sent_again(team):
    """The claim is a conditional update from the value read: a sender that read before another one sent leaves
    that search out of its email."""
    search = _search(team)
    seen = _new(search, 1)
    stale = SavedSearch.objects.get()  # read before the other sender's digest
    assert saved_search_digests_send(alert=DAILY, now=_later(search))["emails"] == 1
    assert _claim([SearchDigest(search=stale, postings=[], total=1, mark=seen.first_seen_at)]) == []


def test_the_digest_matches_the_keyword_as_whole_words(team):
    """The full-text language, as GET /api/v1/jobs?q= (a board's substring match would take "engineers" too)."""
    search = _search(team, keyword="engineer")
    _new(search, 1, title="Backend engineers wanted")
    _new(search, 2, title="Backend engineer")
    assert saved_search_digests_send(alert=DAILY, now=_later(search))["postings"] == 1
    assert "/jobs/2" in mail.outbox[0].body and "/jobs/1" not in mail.outbox[0].body
