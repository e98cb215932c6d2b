"""The follow-up API (list, done, snooze) and the automation rules' preview: team-scoped, strict input, and the
409s a unique date or a done follow-up give."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from scraping_app.models import AutomationRule, FollowUp, JobApplication, JobPosting, Team
from tests.scraping_app.api.test_views import client_for
from tests.scraping_app.conftest import make_source

pytestmark = pytest.mark.django_db

LIST = "/api/v1/follow-ups"


@pytest.fixture(autouse=True)
def _local_throttle_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "follow-up-api-tests"}}
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def world(db):
    User = get_user_model()
    alice, mallory = User.objects.create(username="alice"), User.objects.create(username="mallory")
    staff = User.objects.create(username="root", is_staff=True)
    team, other = Team.objects.create(name="Mine"), Team.objects.create(name="Theirs")
    team.members.add(alice)
    other.members.add(mallory)
    source = make_source("sample", name="Sample")
    now = timezone.now()

    def application(n: int, owner: Team) -> JobApplication:
        posting = JobPosting.objects.create(source=source, source_job_id=str(n), title=f"Dev {n}", first_seen_at=now,
                                            last_seen_at=now, fingerprint=str(n))
        return JobApplication.objects.create(team=owner, posting=posting, follow_up_at=now - timedelta(hours=n))

    mine, mine2, theirs = application(1, team), application(2, team), application(3, other)
    follow_ups = {
        "due": FollowUp.objects.create(application=mine, due_at=now - timedelta(hours=1), message="m"),
        "upcoming": FollowUp.objects.create(application=mine2, due_at=now + timedelta(days=2), message="m"),
        "done": FollowUp.objects.create(application=mine2, due_at=now - timedelta(days=3), message="m",
                                        done_at=now - timedelta(days=1), done_by=alice),
        "theirs": FollowUp.objects.create(application=theirs, due_at=now - timedelta(hours=2), message="m"),
    }
    return {"api": client_for(alice), "staff": client_for(staff), "team": team, "other": other, "mine": mine,
            "mine2": mine2, "alice": alice, "now": now, **follow_ups}


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


class TestList:
    def test_my_teams_follow_ups_soonest_due_first(self, world):
        body = world["api"].get(LIST).json()
        assert [row["id"] for row in body["results"]] == [world[k].pk for k in ("done", "due", "upcoming")]
        assert body["count"] == 3
        row = body["results"][1]
        assert row["status"] == "due" and row["team"] == world["team"].pk and row["posting_title"] == "Dev 1"
        assert row["application"] == world["mine"].pk and row["snooze_count"] == 0 and row["done_at"] is None

    def test_staff_see_every_team(self, world):
        assert len(ids(world["staff"].get(LIST))) == 4
        assert ids(world["staff"].get(f"{LIST}?team_id={world['other'].pk}")) == [world["theirs"].pk]

    @pytest.mark.parametrize("status", ["due", "upcoming", "done"])
    def test_status_filter(self, world, status):
        assert ids(world["api"].get(f"{LIST}/?status={status}")) == [world[status].pk]

    def test_team_and_application_filters(self, world):
        api = world["api"]
        assert len(ids(api.get(f"{LIST}?team_id={world['team'].pk}"))) == 3
        assert ids(api.get(f"{LIST}?application={world['mine'].pk}")) == [world["due"].pk]
        assert ids(api.get(f"{LIST}?application={world['theirs'].application_id}")) == []  # not mine: none

    @pytest.mark.parametrize("query, field", [
        ("status=late", "status"), ("team_id=abc", "team_id"), ("application=0", "application"),
        ("application=x", "application"), ("ordering=due_at", "ordering"), ("page_size=0", "page_size"),
    ])
    def test_bad_or_unknown_parameters_are_400(self, world, query, field):
        response = world["api"].get(f"{LIST}?{query}")
        assert response.status_code == 400 and field in response.json(), response.content

    def test_another_teams_id_is_400(self, world):
        response = world["api"].get(f"{LIST}?team_id={world['other'].pk}")
        assert response.status_code == 400 and response.json() == {"team_id": ["Unknown team."]}

    def test_paginated_like_every_list(self, world):
        page = world["api"].get(f"{LIST}?page_size=2").json()
        assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
        assert world["api"].get(f"{LIST}?page=9").status_code == 404


class TestDone:
    def test_done_sets_the_time_and_user_once(self, world):
        url = f"{LIST}/{world['due'].pk}/done"
        first = world["api"].post(url)
        assert first.status_code == 200, first.content
        assert first.json()["status"] == "done" and first.json()["done_by"] == world["alice"].pk
        second = world["staff"].post(url + "/")
        assert second.status_code == 200 and second.json()["done_at"] == first.json()["done_at"]
        assert second.json()["done_by"] == world["alice"].pk

    def test_another_teams_follow_up_is_404(self, world):
        assert world["api"].post(f"{LIST}/{world['theirs'].pk}/done").status_code == 404
        assert world["api"].post(f"{LIST}/999999/done").status_code == 404
        assert FollowUp.objects.get(pk=world["theirs"].pk).done_at is None


class TestSnooze:
    def url(self, world, key: str = "due") -> str:
        return f"{LIST}/{world[key].pk}/snooze"

    def test_days_moves_the_due_date_and_clears_the_email(self, world):
        FollowUp.objects.filter(pk=world["due"].pk).update(emailed_at=timezone.now())
        before = timezone.now()
        response = world["api"].post(self.url(world), {"days": 3}, format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        follow_up = FollowUp.objects.get(pk=world["due"].pk)
        assert before + timedelta(days=3) <= follow_up.due_at <= timezone.now() + timedelta(days=3)
        assert body["status"] == "upcoming" and body["snooze_count"] == 1 and body["emailed_at"] is None
        assert JobApplication.objects.get(pk=world["mine"].pk).follow_up_at == follow_up.due_at

    def test_until_moves_it_to_that_time(self, world):
        until = (timezone.now() + timedelta(days=10)).replace(microsecond=0)
        response = world["api"].post(self.url(world), {"until": until.isoformat()}, format="json")
        assert response.status_code == 200, response.content
        assert FollowUp.objects.get(pk=world["due"].pk).due_at == until

    @pytest.mark.parametrize("body", [
        {}, {"days": 0}, {"days": 366}, {"days": "2"}, {"days": 1.5}, {"days": True}, {"until": "2020-01-01"},
        {"until": "soon"}, {"days": 1, "until": "2099-01-01"}, {"weeks": 1}, [],
    ])
    def test_bad_bodies_are_400(self, world, body):
        response = world["api"].post(self.url(world), body, format="json")
        assert response.status_code == 400, response.content
        assert FollowUp.objects.get(pk=world["due"].pk).snooze_count == 0

    def test_a_done_follow_up_is_409(self, world):
        response = world["api"].post(self.url(world, "done"), {"days": 1}, format="json")
        assert response.status_code == 409 and "done" in response.json()["detail"]

    def test_a_snooze_onto_the_applications_other_due_time_is_409(self, world):
        taken = FollowUp.objects.create(application=world["mine2"], due_at=timezone.now() + timedelta(days=30),
                                        message="later").due_at
        response = world["api"].post(self.url(world, "upcoming"), {"until": taken.isoformat()}, format="json")
        assert response.status_code == 409, response.content
        assert "already has a follow-up due" in response.json()["detail"]

    def test_another_teams_follow_up_is_404_whatever_the_body(self, world):
        assert world["api"].post(self.url(world, "theirs"), {"days": 1}, format="json").status_code == 404
        assert world["api"].post(self.url(world, "theirs"), {"days": 0}, format="json").status_code == 404


class TestAutomationPreview:
    def test_the_preview_of_a_first_run_and_the_cap(self, world, settings):
        settings.AUTOMATION_FIRST_RUN_CAP = 1
        rule = AutomationRule.objects.create(team=world["team"], name="Devs", include_keywords=["dev"])
        response = world["api"].get(f"/api/v1/automation-rules/{rule.pk}/preview?limit=2")
        assert response.status_code == 200, response.content
        body = response.json()
        # Dev 1 and 2 are my team's applications already; Dev 3 is the other team's, so new to mine.
        assert {k: body[k] for k in ("rule_id", "first_run", "matched", "already_tracked", "would_shortlist", "cap",
                                     "capped", "left_out")} == {
            "rule_id": rule.pk, "first_run": True, "matched": 3, "already_tracked": 2, "would_shortlist": 1,
            "cap": 1, "capped": False, "left_out": 0}
        assert len(body["postings"]) == 2 and {"title", "already_tracked", "salary_annual_max"} <= set(
            body["postings"][0])
        rule.refresh_from_db()
        assert rule.last_run_at is None and JobApplication.objects.count() == 3

    def test_another_teams_rule_is_404_and_unknown_parameters_400(self, world):
        theirs = AutomationRule.objects.create(team=world["other"], name="Theirs")
        mine = AutomationRule.objects.create(team=world["team"], name="Mine")
        assert world["api"].get(f"/api/v1/automation-rules/{theirs.pk}/preview").status_code == 404
        assert world["staff"].get(f"/api/v1/automation-rules/{theirs.pk}/preview/").status_code == 200
        assert world["api"].get(f"/api/v1/automation-rules/{mine.pk}/preview?limit=0").status_code == 400
        response = world["api"].get(f"/api/v1/automation-rules/{mine.pk}/preview?dry=1")
        assert response.status_code == 400 and response.json() == {"dry": ["Unknown field."]}
