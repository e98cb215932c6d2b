"""The admin in a real browser: Debian's Chromium, headless, driven by Playwright."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from scheduler_app.models import JobRun
from tests.conftest import ROOT, require

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture
def browser_page():
    require(Path(CHROMIUM).exists(), f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop in this thread
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            browser.close()
            # Database work done while Playwright's event loop ran used a connection of that context: close it,
            # or PostgreSQL cannot drop the test database.
            from django.db import connections

            connections.close_all()


@pytest.mark.browser
def test_admin_run_now_in_chromium(live_server, browser_page, real_redis, django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    django_user_model.objects.create_superuser("admin", "admin@localhost", "admin")
    page = browser_page
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    page.click("input[type=submit]")
    page.wait_for_selector("#scheduler-dashboard-link")

    page.goto(f"{live_server.url}/admin/scheduler_app/jobdefinition/")
    row = page.locator("#result_list tr", has_text="quick_job")
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "run_now")
    page.click("button[name=index]")
    message = page.locator(".messagelist .success")
    message.wait_for()
    run_id = int(re.search(r"#(\d+)", message.inner_text()).group(1))
    assert JobRun.objects.get(pk=run_id).trigger == "admin"

    # the run appears in the run list, and finishes
    for _ in range(50):
        page.goto(f"{live_server.url}/admin/scheduler_app/jobrun/?job_id__exact=quick_job")
        if "SUCCEEDED" in page.locator("#result_list").inner_text():
            break
        page.wait_for_timeout(100)
    listing = page.locator("#result_list").inner_text()
    assert "quick_job" in listing and "SUCCEEDED" in listing and "admin" in listing
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin-run-now.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/scheduler_app/schedulerinstance/dashboard/")
    page.wait_for_selector("#scheduler-charts svg rect")
    page.screenshot(path=str(ARTIFACTS / "admin-scheduler-dashboard.png"), full_page=True)
    assert (ARTIFACTS / "admin-run-now.png").stat().st_size > 10_000
