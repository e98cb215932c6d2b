"""Operator actions in a real browser (Debian's Chromium, headless, Playwright), at 1280 x 800 and 1440 x 900:
Cancel run stops a live scrape; Clear lock on a live holder asks first and offers Cancel run instead."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from scheduler_app import locks
from scheduler_app.models import JobRun, OperatorAction
from scraping_app.models import SavedSearch, Team
from tests.acceptance.test_admin_browser import ARTIFACTS, browser_page  # noqa: F401 - the browser fixture
from tests.scraping_app.conftest import Board, arbeitnow_endless, make_source
from tests.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]
VIEWPORTS = [(1280, 800), (1440, 900)]


@pytest.fixture
def slow_board():
    """A board whose every page takes 0.3 s and has a next page of new postings, none of which matches the saved
    search (so its limit is never met): a scrape of it runs until it is stopped."""
    server = Board()
    posting = {"slug": "x", "company_name": "Acme", "title": "Rust developer", "description": "d",
               "remote": True, "url": "https://example.invalid/x", "tags": [], "job_types": [], "location": "Berlin",
               "created_at": 1764547200}
    server.add("/api/job-board-api", arbeitnow_endless([posting], delay=0.3))
    yield server
    server.close()


def login(page, base: str, django_user_model) -> None:
    django_user_model.objects.create_superuser("admin", "admin@localhost", "admin")
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    page.click("input[type=submit]")
    page.wait_for_selector("#scheduler-dashboard-link")


def select_job_action(page, base: str, job_id: str, action: str) -> None:
    page.goto(f"{base}/admin/scheduler_app/jobdefinition/")
    # by the checkbox's label, which ends "(<job_id>)": other jobs' ids may contain this one (recorded_hold_job)
    page.locator(f'#result_list input.action-select[aria-label$="({job_id})"]').check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


def shot(page, name: str, width: int) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-{name}-{width}.png"), full_page=True)


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=lambda v: f"{v[0]}x{v[1]}")
def test_cancel_run_stops_a_live_scrape(live_server, browser_page, real_redis, django_user_model, settings,  # noqa: F811
                                        slow_board, viewport):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    team = Team.objects.create(name="Browser team")
    SavedSearch.objects.create(team=team, keyword="python", limit=100)
    make_source("arbeitnow", slow_board.url("/api/job-board-api"), params={"max_pages": 100000})
    page = browser_page
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    login(page, live_server.url, django_user_model)

    select_job_action(page, live_server.url, "scrape_jobs_task", "run_now")
    message = page.locator(".messagelist .success")
    message.wait_for()
    run_id = int(re.search(r"#(\d+)", message.inner_text()).group(1))
    wait_for(lambda: len(slow_board.hits("/api/job-board-api")) >= 2, timeout=30, message="the scrape to fetch")

    page.goto(f"{live_server.url}/admin/scheduler_app/jobrun/{run_id}/change/")
    page.click("#cancel-run")
    page.wait_for_selector("#confirm-cancel")
    shot(page, "cancel-confirm", viewport[0])
    page.click("#confirm-cancel")
    page.locator(".messagelist .success", has_text="was asked to stop").wait_for()

    run = wait_for(lambda: (r := JobRun.objects.get(pk=run_id)).is_finished and r, timeout=30,
                   message="the scrape to stop")
    assert run.status == JobRun.Status.CANCELLED and run.cancel_requested_by == "admin"
    fetched = len(slow_board.hits("/api/job-board-api"))
    assert locks.inspect("scrape_jobs_task") is None  # its lock is released
    page.reload()
    page.get_by_text("Ended CANCELLED (cancelled by admin)").wait_for()
    shot(page, "cancelled-run", viewport[0])
    assert len(slow_board.hits("/api/job-board-api")) == fetched  # it fetches nothing more
    assert OperatorAction.objects.get(action="cancel_run").run_id == run_id


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=lambda v: f"{v[0]}x{v[1]}")
def test_clear_lock_on_a_live_holder_shows_a_confirmation(live_server, browser_page, real_redis,  # noqa: F811
                                                          django_user_model, settings, viewport):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    now = timezone.now()
    live = JobRun.objects.create(job_id="hold_job", lock_key="hold_job", trigger="scheduled", status="RUNNING",
                                 started_at=now, heartbeat_at=now, host="worker-1", pid=4242)
    lease = locks.acquire("hold_job", ttl_seconds=60, run_id=live.pk)
    page = browser_page
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    try:
        login(page, live_server.url, django_user_model)
        select_job_action(page, live_server.url, "hold_job", "clear_lock")
        page.get_by_text("does not stop it").wait_for()
        offer = page.locator(f"#cancel-run-{live.pk}")
        assert offer.inner_text() == f"Cancel run #{live.pk} instead"
        assert locks.inspect("hold_job") is not None  # nothing cleared by asking
        shot(page, "clear-lock-confirm", viewport[0])

        offer.click()  # the honest alternative leads to the run's cancel page
        page.wait_for_selector("#confirm-cancel")
        select_job_action(page, live_server.url, "hold_job", "clear_lock")  # asked again: clear it anyway
        page.click("#clear-anyway")
        warning = page.locator(".messagelist .warning")
        warning.wait_for()
        assert f"its holder, run #{live.pk}, is alive" in warning.inner_text()
        assert locks.inspect("hold_job") is None
        assert OperatorAction.objects.get(action="clear_lock").run_id == live.pk
    finally:
        lease.release()
