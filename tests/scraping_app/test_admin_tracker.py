"""The tracker in the admin: the board (a column per stage), the "Move to <stage>" actions through the tracker's
graph, the history, contact and interview inlines, read-only stage timestamps, and adding an external job."""

from __future__ import annotations

import inspect
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from scraping_app import selectors
from scraping_app.models import ApplicationStageChange, Contact, JobApplication, JobPosting, JobSource, Team
from scraping_app.services import application_create, application_move

pytestmark = pytest.mark.django_db

BOARD = "/admin/scraping_app/jobapplication/board/"
CHANGELIST = "/admin/scraping_app/jobapplication/"


@pytest.fixture
def teams(db):
    return Team.objects.create(name="Blue team"), Team.objects.create(name="Red team")


@pytest.fixture
def posting(db):
    now = timezone.now()
    source = JobSource.objects.create(kind="sample", name="S")
    return JobPosting.objects.create(source=source, source_job_id="1", title="Python dev", company="Acme",
                                     first_seen_at=now, last_seen_at=now, fingerprint="f")


def test_the_board_shows_a_column_per_stage_with_cards(admin_client, teams, posting):
    blue, red = teams
    application_create(team=blue, posting=posting, status="interviewing", now=timezone.now() - timedelta(days=3))
    application_create(team=red, external_title="Staff engineer", external_company="Initech", status="offer")
    response = admin_client.get(BOARD)
    assert response.status_code == 200
    columns = {column.stage: column for column in response.context["columns"]}
    assert list(columns) == ["shortlisted", "applied", "interviewing", "offer", "rejected", "withdrawn"]
    [card] = columns["interviewing"].cards
    assert (card.title, card.company, card.application.team, card.days_in_stage) == ("Python dev", "Acme", blue, 3)
    assert [c.title for c in columns["offer"].cards] == ["Staff engineer"]
    page = response.content.decode()
    for label in ("Shortlisted (0)", "Interviewing (1)", "Offer (1)", "Withdrawn (0)"):
        assert label in page
    assert "Python dev" in page and "Initech · Red team" in page and "3 days in stage" in page


def test_the_board_filters_by_team(admin_client, teams, posting):
    blue, red = teams
    application_create(team=blue, posting=posting)
    application_create(team=red, external_title="Red job")
    response = admin_client.get(f"{BOARD}?team={red.pk}")
    columns = {column.stage: column for column in response.context["columns"]}
    assert [c.title for c in columns["shortlisted"].cards] == ["Red job"] and columns["shortlisted"].count == 1
    assert admin_client.get(f"{BOARD}?team=nonsense").status_code == 200  # every team


def test_the_changelist_links_to_the_board_and_filters_by_status(admin_client, teams, posting):
    application_create(team=teams[0], posting=posting, status="applied")
    application_create(team=teams[0], external_title="Elsewhere")
    page = admin_client.get(CHANGELIST)
    assert page.status_code == 200 and BOARD in page.content.decode()
    filtered = admin_client.get(f"{CHANGELIST}?status__exact=applied")
    assert [a.status for a in filtered.context["cl"].result_list] == ["applied"]


def test_a_non_staff_user_cannot_open_the_board(client, django_user_model):
    user = django_user_model.objects.create_user("plain", password="pw")
    client.force_login(user)
    response = client.get(BOARD)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_move_actions_go_through_the_graph_and_report_refusals(admin_client, admin_user, teams, posting):
    applied = application_create(team=teams[0], posting=posting, status="applied")
    rejected = application_create(team=teams[0], external_title="Gone", status="rejected")
    response = admin_client.post(CHANGELIST, {"action": "move_to_interviewing",
                                              "_selected_action": [applied.pk, rejected.pk]})
    assert response.status_code == 302
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert f"Application {rejected.pk} not moved: The application is rejected, a final stage: it moves no " \
           "further." in texts
    assert "Moved 1 application(s) to interviewing." in texts
    stored = JobApplication.objects.get(pk=applied.pk)
    assert stored.status == "interviewing" and stored.interviewing_at is not None
    change = ApplicationStageChange.objects.filter(application=stored).last()
    assert (change.from_status, change.to_status, change.changed_by) == ("applied", "interviewing", admin_user)
    assert JobApplication.objects.get(pk=rejected.pk).status == "rejected"


def test_the_change_page_has_inlines_and_read_only_stage_and_timestamps(admin_client, teams, posting):
    application = application_create(team=teams[0], posting=posting, status="applied")
    url = f"/admin/scraping_app/jobapplication/{application.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert not {"status", "team", "posting", "applied_at", "status_changed_at"} & set(form.fields)
    html = page.content.decode()
    assert "stage history" in html.lower() and "contacts" in html.lower() and "interviews" in html.lower()
    data = {"notes": "recruiter called", "external_url": "", "external_title": "", "external_company": "",
            "follow_up_at_0": "", "follow_up_at_1": "", "salary_expected": "", "offer_salary": "",
            "offer_currency": "", "offer_period": "", "offer_notes": "",
            "stage_changes-TOTAL_FORMS": "1", "stage_changes-INITIAL_FORMS": "1",
            "stage_changes-0-id": application.stage_changes.get().pk, "stage_changes-0-application": application.pk,
            "contacts-TOTAL_FORMS": "1", "contacts-INITIAL_FORMS": "0", "contacts-0-name": "Ada",
            "contacts-0-role": "Recruiter", "contacts-0-email": "", "contacts-0-phone": "", "contacts-0-url": "",
            "contacts-0-notes": "",
            "interviews-TOTAL_FORMS": "0", "interviews-INITIAL_FORMS": "0",
            "follow_ups-TOTAL_FORMS": "0", "follow_ups-INITIAL_FORMS": "0"}
    saved = admin_client.post(url, data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else saved
    stored = JobApplication.objects.get(pk=application.pk)
    assert (stored.notes, stored.status) == ("recruiter called", "applied")
    assert Contact.objects.get(application=stored).name == "Ada"


def test_adding_a_job_found_elsewhere_writes_its_first_history_row(admin_client, teams):
    data = {"team": teams[0].pk, "posting": "", "external_url": "https://jobs.example/1",
            "external_title": "Staff engineer", "external_company": "Initech", "status": "applied", "notes": "",
            "follow_up_at_0": "", "follow_up_at_1": "", "salary_expected": "", "offer_salary": "",
            "offer_currency": "", "offer_period": "", "offer_notes": "",
            "stage_changes-TOTAL_FORMS": "0", "stage_changes-INITIAL_FORMS": "0",
            "contacts-TOTAL_FORMS": "1", "contacts-INITIAL_FORMS": "0", "contacts-0-name": "Bob",
            "contacts-0-role": "", "contacts-0-email": "", "contacts-0-phone": "", "contacts-0-url": "",
            "contacts-0-notes": "",
            "interviews-TOTAL_FORMS": "0", "interviews-INITIAL_FORMS": "0",
            "follow_ups-TOTAL_FORMS": "0", "follow_ups-INITIAL_FORMS": "0"}
    response = admin_client.post("/admin/scraping_app/jobapplication/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    application = JobApplication.objects.get()
    assert (application.external_title, application.status, application.posting) == ("Staff engineer", "applied",
                                                                                      None)
    assert application.applied_at is not None
    assert list(application.stage_changes.values_list("from_status", "to_status")) == [("", "applied")]
    assert Contact.objects.get().application == application


def test_adding_neither_a_posting_nor_a_title_is_a_form_error(admin_client, teams):
    data = {"team": teams[0].pk, "posting": "", "external_url": "", "external_title": "", "external_company": "",
            "status": "shortlisted", "notes": "", "follow_up_at_0": "", "follow_up_at_1": "",
            "salary_expected": "", "offer_salary": "", "offer_currency": "", "offer_period": "", "offer_notes": "",
            "stage_changes-TOTAL_FORMS": "0", "stage_changes-INITIAL_FORMS": "0",
            "contacts-TOTAL_FORMS": "0", "contacts-INITIAL_FORMS": "0",
            "interviews-TOTAL_FORMS": "0", "interviews-INITIAL_FORMS": "0",
            "follow_ups-TOTAL_FORMS": "0", "follow_ups-INITIAL_FORMS": "0"}
    response = admin_client.post("/admin/scraping_app/jobapplication/add/", data)
    assert response.status_code == 200 and response.context["adminform"].form.errors
    assert not JobApplication.objects.exists()


def test_the_boards_selector_counts_every_application_and_shows_the_most_recently_moved(teams):
    application_create(team=teams[0], external_title="First", status="applied")
    second = application_create(team=teams[0], external_title="Second")
    application_move(application=second, to_status="applied")  # moved last: shown first
    columns = {column.stage: column for column in selectors.applications_board(limit=1)}
    assert columns["applied"].count == 2 and [card.title for card in columns["applied"].cards] == ["Second"]
    assert columns["offer"].count == 0 and columns["offer"].cards == []
    assert inspect.signature(selectors.applications_board).parameters["limit"].default == 100  # the admin's
