"""The tracker's API: the status filter, applications to postings and to jobs found elsewhere, moves (PATCH and
POST …/move) with their history, contacts and interviews, and team scoping (another team's is a 404)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scraping_app.models import ApplicationStageChange, Contact, Interview, JobApplication, JobPosting, Team
from scraping_app.services import application_create
from tests.conftest import bearer
from tests.scraping_app.conftest import make_source

pytestmark = pytest.mark.django_db

APPS = "/api/v1/applications"


@pytest.fixture
def posting(db):
    now = timezone.now()
    return JobPosting.objects.create(source=make_source("sample", name="Sample"), source_job_id="1",
                                     title="Python dev", company="Acme", url="https://board.example/1",
                                     first_seen_at=now, last_seen_at=now, fingerprint="x")


@pytest.fixture
def other_team(users):
    other = Team.objects.create(name="Other team")
    other.members.add(users["outsider"])
    return other


def stages(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["status"] for row in response.json()["results"]]


class TestList:
    def test_the_status_filter_takes_a_comma_list(self, member_api, team, posting):
        for status in ("shortlisted", "applied", "interviewing"):
            application_create(team=team, external_title=f"Job {status}", status=status)
        assert stages(member_api.get(APPS)) == ["interviewing", "applied", "shortlisted"]  # newest first
        assert stages(member_api.get(f"{APPS}?status=applied,interviewing")) == ["interviewing", "applied"]
        assert stages(member_api.get(f"{APPS}?status=offer")) == []
        assert stages(member_api.get(f"{APPS}?status=applied&team_id={team.pk}")) == ["applied"]

    @pytest.mark.parametrize("query", ["status=hired", "status=applied,hired", "status=", "state=applied",
                                       "team_id=999"])
    def test_a_bad_filter_is_a_400(self, member_api, team, query):
        response = member_api.get(f"{APPS}?{query}")
        assert response.status_code == 400, response.content

    def test_an_unknown_stage_is_named(self, member_api, team):
        assert member_api.get(f"{APPS}?status=applied,hired").json() == {"status": [
            "Unknown value(s): hired. Use shortlisted, applied, interviewing, offer, rejected, withdrawn."]}


class TestCreate:
    def test_an_application_to_a_posting_shows_its_job(self, member_api, team, posting, users):
        response = member_api.post(APPS, {"team": team.pk, "posting": posting.pk, "status": "applied"},
                                   format="json")
        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["title"], body["company"], body["url"], body["posting"]) == (
            "Python dev", "Acme", "https://board.example/1", posting.pk)
        assert body["status"] == "applied" and body["applied_at"] is not None
        assert body["status_changed_at"] == body["applied_at"]
        change = ApplicationStageChange.objects.get(application_id=body["id"])
        assert (change.from_status, change.to_status, change.changed_by) == ("", "applied", users["member"])

    def test_an_application_to_a_job_found_elsewhere(self, member_api, team):
        response = member_api.post(APPS, {"team": team.pk, "external_url": "https://jobs.example/7",
                                          "external_title": "Staff engineer", "external_company": "Initech",
                                          "salary_expected": "120000.00"}, format="json")
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["posting"] is None
        assert (body["title"], body["company"], body["url"], body["salary_expected"]) == (
            "Staff engineer", "Initech", "https://jobs.example/7", "120000.00")
        assert member_api.get(f"{APPS}/{body['id']}").json()["title"] == "Staff engineer"

    @pytest.mark.parametrize("body", [{}, {"external_url": "https://jobs.example/7"}, {"posting": None},
                                      {"external_title": ""}])
    def test_neither_a_posting_nor_an_external_title_is_a_400(self, member_api, team, body):
        response = member_api.post(APPS, {"team": team.pk, **body}, format="json")
        assert response.status_code == 400, response.content
        assert not JobApplication.objects.exists()

    @pytest.mark.parametrize("extra", [{"external_title": "Other"}, {"external_url": ""},
                                       {"external_company": "Acme"}])
    def test_a_posting_and_an_external_field_together_are_a_400(self, member_api, team, posting, extra):
        response = member_api.post(APPS, {"team": team.pk, "posting": posting.pk, **extra}, format="json")
        assert response.status_code == 400 and set(response.json()) == set(extra)
        assert not JobApplication.objects.exists()

    def test_stage_timestamps_are_read_only(self, member_api, team):
        response = member_api.post(APPS, {"team": team.pk, "external_title": "Dev",
                                          "applied_at": "2020-01-01T00:00:00Z"}, format="json")
        assert response.status_code == 201  # ignored, as every read-only field is
        assert response.json()["applied_at"] is None


class TestMoves:
    @pytest.fixture
    def application(self, team, posting):
        return application_create(team=team, posting=posting, status="applied")

    def test_patch_status_moves_forward_and_shows_the_history(self, member_api, application):
        response = member_api.patch(f"{APPS}/{application.pk}", {"status": "interviewing", "notes": "call booked"},
                                    format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["status"], body["notes"]) == ("interviewing", "call booked")
        assert body["interviewing_at"] is not None and body["applied_at"] is not None
        assert [(row["from_status"], row["to_status"]) for row in body["history"]] == [
            ("", "applied"), ("applied", "interviewing")]

    def test_patch_status_backwards_is_a_409_naming_the_allowed_moves(self, member_api, application):
        response = member_api.patch(f"{APPS}/{application.pk}", {"status": "shortlisted", "notes": "x"},
                                    format="json")
        assert response.status_code == 409
        assert response.json() == {"status": [
            "Cannot move back from applied to shortlisted. From applied it can move to interviewing, offer, "
            "rejected or withdrawn."]}
        stored = JobApplication.objects.get(pk=application.pk)
        assert (stored.status, stored.notes) == ("applied", "")

    def test_an_unknown_status_is_a_400(self, member_api, application):
        assert member_api.patch(f"{APPS}/{application.pk}", {"status": "hired"}, format="json").status_code == 400

    def test_stage_timestamps_cannot_be_written(self, member_api, application):
        applied_at = application.applied_at
        response = member_api.patch(f"{APPS}/{application.pk}", {"applied_at": "2020-01-01T00:00:00Z"},
                                    format="json")
        assert response.status_code == 200
        assert JobApplication.objects.get(pk=application.pk).applied_at == applied_at

    def test_the_move_endpoint(self, member_api, application, users):
        response = member_api.post(f"{APPS}/{application.pk}/move", {"status": "offer", "note": "verbal"},
                                   format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["status"] == "offer" and body["offer_at"] is not None
        assert body["history"][-1] == {**body["history"][-1], "from_status": "applied", "to_status": "offer",
                                       "note": "verbal", "changed_by": users["member"].pk}
        again = member_api.post(f"{APPS}/{application.pk}/move", {"status": "offer"}, format="json")
        assert again.status_code == 200 and len(again.json()["history"]) == 2  # the same stage: no move

    def test_the_move_endpoint_refuses_with_a_409_and_validates(self, member_api, application):
        member_api.post(f"{APPS}/{application.pk}/move", {"status": "withdrawn"}, format="json")
        refused = member_api.post(f"{APPS}/{application.pk}/move", {"status": "offer"}, format="json")
        assert refused.status_code == 409
        assert refused.json() == {"status": ["The application is withdrawn, a final stage: it moves no further."]}
        for body in ({}, {"status": "hired"}, {"status": "offer", "extra": 1}, {"status": "offer", "note": 5}):
            response = member_api.post(f"{APPS}/{application.pk}/move", body, format="json")
            assert response.status_code == 400, body

    def test_the_team_and_posting_are_fixed(self, member_api, application, posting):
        response = member_api.patch(f"{APPS}/{application.pk}", {"external_title": "Other"}, format="json")
        assert response.status_code == 409 and "external_title" in response.json()
        other = JobPosting.objects.create(source=posting.source, source_job_id="2", title="Other",
                                          first_seen_at=posting.first_seen_at, last_seen_at=posting.last_seen_at)
        moved = member_api.patch(f"{APPS}/{application.pk}", {"posting": other.pk}, format="json")
        assert moved.status_code == 409 and moved.json() == {"posting": ["Fixed when the application is created."]}
        ok = member_api.put(f"{APPS}/{application.pk}", {"team": application.team_id, "posting": posting.pk,
                                                         "notes": "same job"}, format="json")
        assert ok.status_code == 200 and ok.json()["notes"] == "same job"

    def test_the_detail_reads_history_contacts_and_interviews_in_one_query_each(self, member_api, application):
        for i in range(3):
            Contact.objects.create(application=application, name=f"C{i}")
            Interview.objects.create(application=application, scheduled_at=timezone.now())
        with CaptureQueriesContext(connection) as one:
            body = member_api.get(f"{APPS}/{application.pk}").json()
        assert (len(body["history"]), len(body["contacts"]), len(body["interviews"])) == (1, 3, 3)
        Contact.objects.create(application=application, name="C3")
        Interview.objects.create(application=application, scheduled_at=timezone.now())
        with CaptureQueriesContext(connection) as more:
            member_api.get(f"{APPS}/{application.pk}")
        assert len(more.captured_queries) == len(one.captured_queries)  # not one per row


class TestContactsAndInterviews:
    @pytest.fixture
    def application(self, team):
        return application_create(team=team, external_title="Dev")

    def test_contacts_crud(self, member_api, application):
        url = f"{APPS}/{application.pk}/contacts"
        created = member_api.post(url, {"name": "Ada", "role": "Recruiter", "email": "ada@example.com"},
                                  format="json")
        assert created.status_code == 201, created.content
        contact = created.json()
        assert (contact["application"], contact["name"]) == (application.pk, "Ada")
        assert [c["name"] for c in member_api.get(url).json()["results"]] == ["Ada"]
        patched = member_api.patch(f"{url}/{contact['id']}", {"phone": "+1 555"}, format="json")
        assert patched.status_code == 200 and patched.json()["phone"] == "+1 555"
        assert member_api.post(url, {"name": "Bob", "email": "nope"}, format="json").status_code == 400
        assert member_api.post(url, {"role": "no name"}, format="json").status_code == 400
        assert member_api.get(f"{url}?bogus=1").status_code == 400
        assert member_api.delete(f"{url}/{contact['id']}").status_code == 204
        assert not Contact.objects.exists()
        assert member_api.patch(f"{url}/{contact['id']}", {"phone": "1"}, format="json").status_code == 404

    def test_interviews_crud(self, member_api, application):
        url = f"{APPS}/{application.pk}/interviews"
        created = member_api.post(url, {"scheduled_at": "2026-12-10T15:00:00Z", "kind": "technical",
                                        "notes": "pairing"}, format="json")
        assert created.status_code == 201, created.content
        interview = created.json()
        assert (interview["kind"], interview["scheduled_at"]) == ("technical", "2026-12-10T15:00:00Z")
        assert member_api.patch(f"{url}/{interview['id']}", {"kind": "lunch"}, format="json").status_code == 400
        assert member_api.patch(f"{url}/{interview['id']}", {"kind": "onsite"}, format="json").json()["kind"] == \
            "onsite"
        assert member_api.post(url, {"kind": "phone"}, format="json").status_code == 400  # scheduled_at required
        detail = member_api.get(f"{APPS}/{application.pk}").json()
        assert [i["kind"] for i in detail["interviews"]] == ["onsite"]
        assert member_api.delete(f"{url}/{interview['id']}").status_code == 204
        assert not Interview.objects.exists()

    def test_a_contact_of_another_application_is_a_404(self, member_api, team, application):
        other = application_create(team=team, external_title="Other")
        contact = Contact.objects.create(application=other, name="Elsewhere")
        assert member_api.get(f"{APPS}/{application.pk}/contacts/{contact.pk}").status_code == 404
        assert member_api.delete(f"{APPS}/{application.pk}/contacts/{contact.pk}").status_code == 404
        assert Contact.objects.filter(pk=contact.pk).exists()


class TestTeamScoping:
    def test_another_teams_application_and_its_records_are_404(self, users, other_team, member_api):
        theirs = application_create(team=other_team, external_title="Theirs")
        contact = Contact.objects.create(application=theirs, name="Eve")
        interview = Interview.objects.create(application=theirs, scheduled_at=timezone.now())
        assert member_api.get(APPS).json()["results"] == []
        for method, path, body in [
            ("get", f"{APPS}/{theirs.pk}", None),
            ("patch", f"{APPS}/{theirs.pk}", {"status": "applied"}),
            ("post", f"{APPS}/{theirs.pk}/move", {"status": "applied"}),
            ("get", f"{APPS}/{theirs.pk}/contacts", None),
            ("post", f"{APPS}/{theirs.pk}/contacts", {"name": "Mallory"}),
            ("post", f"{APPS}/{theirs.pk}/contacts", {"bogus": "body"}),  # 404 whatever the body says
            ("patch", f"{APPS}/{theirs.pk}/contacts/{contact.pk}", {"name": "x"}),
            ("delete", f"{APPS}/{theirs.pk}/contacts/{contact.pk}", None),
            ("get", f"{APPS}/{theirs.pk}/interviews", None),
            ("post", f"{APPS}/{theirs.pk}/interviews", {"scheduled_at": "2026-12-10", "kind": "phone"}),
            ("delete", f"{APPS}/{theirs.pk}/interviews/{interview.pk}", None),
        ]:
            response = getattr(member_api, method)(path, body, format="json")
            assert response.status_code == 404, (method, path)
        assert JobApplication.objects.get(pk=theirs.pk).status == "shortlisted"
        assert Contact.objects.get().name == "Eve" and Interview.objects.count() == 1

    def test_an_application_for_another_team_is_a_400(self, member_api, other_team):
        response = member_api.post(APPS, {"team": other_team.pk, "external_title": "x"}, format="json")
        assert response.status_code == 400 and response.json() == {"team": ["Unknown team."]}

    def test_staff_see_every_team(self, staff_api, other_team, team):
        application_create(team=other_team, external_title="Theirs")
        application_create(team=team, external_title="Ours")
        assert [row["title"] for row in staff_api.get(APPS).json()["results"]] == ["Ours", "Theirs"]
        assert staff_api.get(f"{APPS}?team_id={other_team.pk}").json()["count"] == 1

    def test_the_outsider_sees_their_own(self, users, other_team):
        application_create(team=other_team, external_title="Theirs")
        assert bearer(users["outsider"]).get(APPS).json()["count"] == 1
