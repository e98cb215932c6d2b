"""Pause schedule / Resume schedule in the admin: the list's actions (pause asks for a reason on a confirmation
page), the job page's buttons, and the paused state on the list, the dashboard and the job page."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from scheduler_app import services
from scheduler_app.models import JobDefinition, OperatorAction

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/scheduler_app/jobdefinition/"


@pytest.fixture
def admin_client_(client, django_user_model, fake_redis):
    services.job_definitions_sync()
    user = django_user_model.objects.create_superuser("root", "root@localhost", "pw")
    client.force_login(user)
    return client


def _pk(job_id: str) -> int:
    return JobDefinition.objects.get(job_id=job_id).pk


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _paused(job_id: str) -> bool:
    return JobDefinition.objects.get(job_id=job_id).paused_at is not None


def test_pause_asks_for_a_reason_then_pauses_each_selected_job(admin_client_):
    pks = [_pk("scrape_jobs_task"), _pk("check_follow_ups_task")]
    page = admin_client_.post(CHANGELIST, {"action": "pause_schedule", "_selected_action": pks})
    html = page.content.decode()
    assert page.status_code == 200 and 'id="pause-reason"' in html and "scrape_jobs_task" in html
    assert "check_follow_ups_task" in html and not _paused("scrape_jobs_task")

    blank = admin_client_.post(CHANGELIST, {"action": "pause_schedule", "_selected_action": pks, "confirm": "yes",
                                            "reason": "  "})
    assert blank.status_code == 200 and 'id="reason-error"' in blank.content.decode()
    assert not _paused("scrape_jobs_task") and not OperatorAction.objects.exists()

    done = admin_client_.post(CHANGELIST, {"action": "pause_schedule", "_selected_action": pks, "confirm": "yes",
                                           "reason": "boards are rate-limiting us"}, follow=True)
    assert done.status_code == 200
    messages = _messages(done)
    assert len(messages) == 2 and all("paused by root since" in m for m in messages)
    assert _paused("scrape_jobs_task") and _paused("check_follow_ups_task") and not _paused("quick_job")
    html = done.content.decode()  # back on the list: the state and the text show
    assert "console-paused" in html and "paused: no scheduled fires" in html
    assert "boards are rate-limiting us" in html
    assert sorted(OperatorAction.objects.values_list("action", "source", "username", "job_id")) == [
        ("pause_schedule", "admin", "root", "check_follow_ups_task"), ("pause_schedule", "admin", "root",
                                                                       "scrape_jobs_task")]


def test_resume_action_and_repeats_say_so(admin_client_):
    services.job_schedule_pause(job_id="scrape_jobs_task", reason="why", source="api")
    pks = [_pk("scrape_jobs_task"), _pk("quick_job")]
    done = admin_client_.post(CHANGELIST, {"action": "resume_schedule", "_selected_action": pks}, follow=True)
    messages = _messages(done)
    assert any(m.startswith("Schedule of scrape_jobs_task resumed") for m in messages)
    assert "Schedule of quick_job is not paused; nothing changed." in messages
    assert not _paused("scrape_jobs_task")
    assert OperatorAction.objects.filter(action="resume_schedule", source="admin").count() == 2


def test_the_job_page_has_pause_and_resume_buttons_and_shows_the_pause(admin_client_):
    url = f"{CHANGELIST}{_pk('scrape_jobs_task')}/change/"
    html = admin_client_.get(url).content.decode()
    assert 'id="console-pause"' in html and 'value="pause_schedule"' in html and 'id="console-resume"' not in html
    assert "No: it fires on schedule." in html

    services.job_schedule_pause(job_id="scrape_jobs_task", reason="vendor outage", source="api")
    html = admin_client_.get(url).content.decode()
    assert 'id="console-resume"' in html and 'value="resume_schedule"' in html and 'id="console-pause"' not in html
    assert 'id="job-paused-note"' in html and "vendor outage" in html
    # The button posts the list's action for this one job.
    done = admin_client_.post(CHANGELIST, {"action": "resume_schedule", "_selected_action": [_pk("scrape_jobs_task")],
                                           "index": "0"}, follow=True)
    assert done.status_code == 200 and not _paused("scrape_jobs_task")


def test_saving_the_form_keeps_the_pause(admin_client_):
    services.job_schedule_pause(job_id="scrape_jobs_task", reason="kept", source="api")
    definition = JobDefinition.objects.get(job_id="scrape_jobs_task")
    form = {"name": definition.name, "trigger_type": "cron", "cron": "*/15 * * * *", "interval_seconds": "",
            "timeout_minutes": "10", "enabled": "on", "lock_scope": "job", "wait_seconds": "0"}
    for name in ("overlap_policy", "catch_up_policy", "jitter_seconds"):  # fields a merged form may show
        form[name] = {"overlap_policy": "skip", "catch_up_policy": "latest", "jitter_seconds": "0"}[name]
    response = admin_client_.post(f"{CHANGELIST}{definition.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    definition.refresh_from_db()
    assert definition.cron == "*/15 * * * *" and definition.pause_reason == "kept" and definition.paused_at


def test_the_dashboard_shows_the_paused_state(admin_client_):
    services.job_schedule_pause(job_id="scrape_jobs_task", reason="on hold for the migration", source="api")
    html = admin_client_.get("/admin/scheduler_app/schedulerinstance/dashboard/").content.decode()
    assert "console-paused" in html and "on hold for the migration" in html and "paused by " in html
