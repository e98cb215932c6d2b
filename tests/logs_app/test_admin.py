"""The LogEntry admin: read-only, with filters and search."""

from __future__ import annotations

import pytest
from django.utils import timezone

from logs_app.models import LogEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged_in(client, django_user_model):
    user = django_user_model.objects.create_superuser("root5", email="r@example.com", password="pw")
    client.force_login(user)
    return client


def test_changelist_filters_and_search(admin_client_logged_in):
    now = timezone.now()
    LogEntry.objects.create(timestamp=now, level="ERROR", levelno=40, logger="scheduler_app",
                            message="Job execution blocked by existing lock", job_id="scrape_jobs_task", run_id=3)
    LogEntry.objects.create(timestamp=now, level="INFO", levelno=20, logger="logs_app", message="Deleted 0 rows")
    url = "/admin/logs_app/logentry/"
    page = admin_client_logged_in.get(url, {"q": "blocked", "level": "ERROR"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "Job execution blocked by existing lock" in body and "Deleted 0 rows" not in body
    assert "By level" in body and "By job id" in body
    assert "Add log entry" not in body


def test_entries_cannot_be_added_changed_or_deleted(admin_client_logged_in):
    entry = LogEntry.objects.create(timestamp=timezone.now(), level="INFO", levelno=20, logger="x", message="m")
    assert admin_client_logged_in.get("/admin/logs_app/logentry/add/").status_code == 403
    assert admin_client_logged_in.post(f"/admin/logs_app/logentry/{entry.pk}/change/",
                                       {"message": "edited"}).status_code == 403
    assert admin_client_logged_in.post(f"/admin/logs_app/logentry/{entry.pk}/delete/",
                                       {"post": "yes"}).status_code == 403
    assert LogEntry.objects.get(pk=entry.pk).message == "m"
    # Viewing a single entry is allowed (read-only form).
    assert admin_client_logged_in.get(f"/admin/logs_app/logentry/{entry.pk}/change/").status_code == 200


def test_minimum_level_filter_run_id_link_and_whole_messages(admin_client_logged_in):
    now = timezone.now()
    long_message = "Starting scrape for python in Berlin " + "x" * 300
    LogEntry.objects.create(timestamp=now, level="WARNING", levelno=30, logger="scheduler_app",
                            message="Failed to acquire lock for job: quick_job (already running)", run_id=7)
    LogEntry.objects.create(timestamp=now, level="INFO", levelno=20, logger="scraping_app", message=long_message,
                            run_id=8)
    LogEntry.objects.create(timestamp=now, level="ERROR", levelno=40, logger="scheduler_app", message="boom")
    url = "/admin/logs_app/logentry/"
    warnings = admin_client_logged_in.get(url, {"min_level": "30"}).content.decode()
    assert "already running" in warnings and "boom" in warnings and "Starting scrape" not in warnings
    assert "WARNING and above" in warnings and "By minimum level" in warnings
    one_run = admin_client_logged_in.get(url, {"run_id": "8"})
    assert one_run.status_code == 200 and one_run.context["cl"].result_count == 1
    body = one_run.content.decode()
    assert long_message in body  # not cut at 120 characters
    assert '<a href="/admin/scheduler_app/jobrun/8/change/">#8</a>' in body
    assert " UTC</small>" in body  # the time with seconds and zone


def test_a_very_long_message_is_cut_with_the_whole_text_in_its_title(admin_client_logged_in):
    message = "y" * 5000
    LogEntry.objects.create(timestamp=timezone.now(), level="INFO", levelno=20, logger="x", message=message)
    body = admin_client_logged_in.get("/admin/logs_app/logentry/").content.decode()
    assert f'title="{message}"' in body and "y" * 999 + "…" in body
