"""Admin pages for every model."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from scraping_app.models import (
    AutomationRule,
    FollowUp,
    JobApplication,
    JobPosting,
    JobSource,
    SavedSearch,
    Team,
)

pytestmark = pytest.mark.django_db


def test_every_model_has_working_admin_pages(admin_client):
    now = timezone.now()
    team = Team.objects.create(name="T")
    source = JobSource.objects.create(kind="sample", name="S")
    posting = JobPosting.objects.create(source=source, source_job_id="1", title="Dev", first_seen_at=now,
                                        last_seen_at=now, fingerprint="f")
    application = JobApplication.objects.create(team=team, posting=posting)
    objects = [team, source, posting, application, FollowUp.objects.create(application=application, due_at=now,
                                                                            message="m"),
               SavedSearch.objects.create(team=team, keyword="k"), AutomationRule.objects.create(team=team, name="r")]
    for obj in objects:
        model = obj._meta.model_name
        assert admin_client.get(f"/admin/scraping_app/{model}/").status_code == 200, model
        assert admin_client.get(f"/admin/scraping_app/{model}/{obj.pk}/change/").status_code == 200, model
    response = admin_client.post("/admin/scraping_app/jobsource/", {"action": "enable_sources",
                                                                    "_selected_action": [source.pk]})
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.enabled


def _add_form(team, keyword: str) -> dict:
    return {"team": team.pk, "keyword": keyword, "location": "", "limit": 25, "active": "on"}


def test_the_admin_refuses_the_21st_saved_search_with_a_form_error(admin_client):
    team = Team.objects.create(name="Full")
    SavedSearch.objects.bulk_create([SavedSearch(team=team, keyword=f"k{i}") for i in range(19)])
    assert admin_client.post("/admin/scraping_app/savedsearch/add/", _add_form(team, "twentieth")).status_code == 302

    response = admin_client.post("/admin/scraping_app/savedsearch/add/", _add_form(team, "twenty-first"))

    assert response.status_code == 200  # the form again, with the error, not a 500
    assert response.context["adminform"].form.errors["team"] == [
        "A team may keep at most 20 saved searches (SAVED_SEARCHES_PER_TEAM_MAX); this team has 20. "
        "Delete one before adding another."]
    assert "SAVED_SEARCHES_PER_TEAM_MAX" in response.content.decode()
    assert SavedSearch.objects.filter(team=team).count() == 20


def test_the_admin_refuses_moving_a_search_into_a_full_team_but_edits_in_place(admin_client, settings):
    settings.SAVED_SEARCHES_PER_TEAM_MAX = 1
    full, other = Team.objects.create(name="Full"), Team.objects.create(name="Other")
    mine = SavedSearch.objects.create(team=full, keyword="mine")
    theirs = SavedSearch.objects.create(team=other, keyword="theirs")
    url = f"/admin/scraping_app/savedsearch/{theirs.pk}/change/"

    moved = admin_client.post(url, _add_form(full, "theirs"))
    assert moved.status_code == 200 and "team" in moved.context["adminform"].form.errors
    assert SavedSearch.objects.get(pk=theirs.pk).team == other

    edited = admin_client.post(f"/admin/scraping_app/savedsearch/{mine.pk}/change/", _add_form(full, "edited"))
    assert edited.status_code == 302
    assert SavedSearch.objects.get(pk=mine.pk).keyword == "edited"


def test_follow_up_admin_filters_by_done_and_marks_done_or_snoozes(admin_client, admin_user):
    now = timezone.now()
    team = Team.objects.create(name="T")
    source = JobSource.objects.create(kind="sample", name="S")
    posting = JobPosting.objects.create(source=source, source_job_id="1", title="Dev", first_seen_at=now,
                                        last_seen_at=now, fingerprint="f")
    application = JobApplication.objects.create(team=team, posting=posting, follow_up_at=now)
    open_one = FollowUp.objects.create(application=application, due_at=now, message="m", emailed_at=now)
    done_one = FollowUp.objects.create(application=application, due_at=now - timedelta(days=1), message="m",
                                       done_at=now)
    url = "/admin/scraping_app/followup/"

    assert list(admin_client.get(f"{url}?done=yes").context["cl"].queryset) == [done_one]
    assert list(admin_client.get(f"{url}?done=no").context["cl"].queryset) == [open_one]

    snoozed = admin_client.post(url, {"action": "snooze_one_day", "_selected_action": [open_one.pk, done_one.pk]},
                                follow=True)
    assert "Snoozed 1 follow-up(s) by 1 day." in snoozed.content.decode()
    assert "cannot be snoozed" in snoozed.content.decode()  # the done one, said, not a 500
    open_one.refresh_from_db()
    assert open_one.snooze_count == 1 and open_one.emailed_at is None and open_one.due_at > now

    assert admin_client.post(url, {"action": "mark_done", "_selected_action": [open_one.pk]}).status_code == 302
    open_one.refresh_from_db()
    assert open_one.done_at is not None and open_one.done_by == admin_user


def test_the_saved_search_form_validates_filters_and_alert_emails_with_form_errors(admin_client):
    team = Team.objects.create(name="T")
    form = {**_add_form(team, "python"), "filters": '{"salary_min": "lots"}',
            "alert": "daily", "alert_emails": '["not an address"]'}

    response = admin_client.post("/admin/scraping_app/savedsearch/add/", form)

    assert response.status_code == 200  # the form again, not a 500
    errors = response.context["adminform"].form.errors
    assert errors["filters"] == ["salary_min: A valid number is required."]
    assert errors["alert_emails"] == ["Enter a valid email address."]
    assert not SavedSearch.objects.exists()

    good = {**form, "filters": '{"remote": true, "tags": "Django", "hours_old": 24}',
            "alert_emails": '["lead@example.com"]'}
    assert admin_client.post("/admin/scraping_app/savedsearch/add/", good).status_code == 302
    search = SavedSearch.objects.get()
    assert search.filters == {"remote": True, "tags": ["django"], "posted_within_hours": 24}
    assert (search.alert, search.alert_emails) == ("daily", ["lead@example.com"])


def test_send_digest_now_emails_the_selected_searches_new_matches(admin_client, mailoutbox):
    team = Team.objects.create(name="T")
    search = SavedSearch.objects.create(team=team, keyword="python", alert_emails=["lead@example.com"])
    source = JobSource.objects.create(kind="sample", name="S")
    SavedSearch.objects.filter(pk=search.pk).update(created_at=timezone.now() - timedelta(hours=1))
    seen = timezone.now() - timedelta(minutes=1)
    JobPosting.objects.create(source=source, source_job_id="1", title="Python dev", first_seen_at=seen,
                              last_seen_at=seen, fingerprint="f", url="https://example.com/1")

    response = admin_client.post("/admin/scraping_app/savedsearch/", {"action": "send_digest_now",
                                                                      "_selected_action": [search.pk]}, follow=True)

    assert [str(m) for m in response.context["messages"]] == [
        "Sent 1 digest email(s) listing 1 new posting(s)."]
    assert [email.to for email in mailoutbox] == [["lead@example.com"]]
    search.refresh_from_db()
    assert search.last_alerted_at == seen
