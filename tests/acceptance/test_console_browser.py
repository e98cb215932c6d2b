"""The operator console in a real browser (Debian's Chromium, headless, driven by Playwright), at 1280 x 800 and
1440 x 900: the job list, the runs list and the dashboard fit without a horizontal scrollbar; a killed holder shows
as silent within 5 s; a timeline bar opens its run. Full-page screenshots go to artifacts/console-<name>-<width>.png.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from scheduler_app import locks
from scheduler_app.models import JobDefinition, JobRun
from tests.acceptance.test_admin_browser import ARTIFACTS, CHROMIUM
from tests.conftest import manage, require
from tests.waiting import wait_for

VIEWPORTS = [pytest.param((1280, 800), id="1280"), pytest.param((1440, 900), id="1440")]
FITS = """() => {
  const page = document.documentElement.scrollWidth <= window.innerWidth;
  const boxes = ['#changelist', '#content-main', '#changelist .results'].map(s => document.querySelector(s))
    .filter(Boolean).map(el => ({id: el.id || el.className, scroll: el.scrollWidth, client: el.clientWidth}));
  return {page, pageWidth: document.documentElement.scrollWidth, inner: window.innerWidth, boxes};
}"""


@pytest.fixture(params=VIEWPORTS)
def console_page(request, live_server, django_user_model, settings):
    require(Path(CHROMIUM).exists(), f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop in this thread
    from playwright.sync_api import sync_playwright

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    django_user_model.objects.create_superuser("admin", "admin@localhost", "admin")
    width, height = request.param
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "admin")
        page.click("input[type=submit]")
        page.wait_for_selector("#scheduler-dashboard-link")
        page.console_width = width
        page.base = live_server.url
        try:
            yield page
        finally:
            browser.close()
            from django.db import connections

            connections.close_all()


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"console-{name}-{page.console_width}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _assert_fits(page, what: str) -> None:
    fits = page.evaluate(FITS)
    assert fits["page"], f"{what}: the page is {fits['pageWidth']} px wide in a {fits['inner']} px window"
    for box in fits["boxes"]:
        assert box["scroll"] <= box["client"], f"{what}: {box['id']} overflows ({box['scroll']} > {box['client']})"


def _demo_runs() -> dict:
    """Demo-like history: runs of every status over the last day for the four real jobs and a test job, and a live
    holder of scrape_jobs_task (a RUNNING run with a fresh heartbeat holding the real Redis key)."""
    now = timezone.now()
    statuses = ["SUCCEEDED", "SUCCEEDED", "FAILED", "SKIPPED", "PARTIAL", "TIMED_OUT", "LOST_LOCK", "MISSED",
                "ABANDONED", "CANCELLED", "SUCCEEDED"]
    made = {}
    jobs = ["scrape_jobs_task", "check_follow_ups_task", "cleanup_old_logs_task", "run_job_automation_task",
            "quick_job"]
    for j, job_id in enumerate(jobs):
        for i, status in enumerate(statuses):
            start = now - timedelta(hours=22 - 2 * i, minutes=7 * j)
            skipped = status in ("SKIPPED", "MISSED")
            run = JobRun.objects.create(
                job_id=job_id, lock_key=job_id, trigger="scheduled", status=status, scheduled_for=start,
                skip_reason="lock_held" if status == "SKIPPED" else ("misfire" if status == "MISSED" else ""),
                started_at=None if skipped else start,
                finished_at=start + timedelta(minutes=9 + i), duration_ms=None if skipped else (9 + i) * 60_000,
                host="" if skipped else "worker-1.example.internal", pid=None if skipped else 4100 + i,
                error="Test error" if status == "FAILED" else "")
            JobRun.objects.filter(pk=run.pk).update(created_at=start)
            made.setdefault(job_id, []).append(run)
    live = JobRun.objects.create(job_id="scrape_jobs_task", lock_key="scrape_jobs_task", trigger="admin",
                                 status="RUNNING", started_at=now - timedelta(seconds=42), heartbeat_at=now,
                                 host="worker-2.example.internal", pid=31337, timeout_seconds=600)
    made["live"] = live
    return made


@pytest.mark.browser
def test_console_pages_fit_without_a_horizontal_scrollbar(console_page, real_redis):
    page = console_page
    made = _demo_runs()
    lease = locks.acquire("scrape_jobs_task", ttl_seconds=600, run_id=made["live"].pk)
    try:
        page.goto(f"{page.base}/admin/scheduler_app/jobdefinition/")
        page.wait_for_selector("#result_list")
        listing = page.locator("#result_list").inner_text()
        assert "running for" in listing and "worker-2.example.internal:31337" in listing
        assert "every 30 min" in listing and "*/30 * * * *" in listing
        assert "TIMED_OUT" in listing or "LOST_LOCK" in listing or "ABANDONED" in listing
        _shot(page, "jobs")
        _assert_fits(page, "job list")
        cron = page.locator("#result_list code.console-nowrap", has_text="*/30 * * * *").first
        assert cron.bounding_box()["height"] < 30  # the cron on one line

        page.goto(f"{page.base}/admin/scheduler_app/jobrun/")
        page.wait_for_selector("#result_list")
        runs = page.locator("#result_list").inner_text()
        assert "worker-1.example.internal:4100" in runs and "scheduled" in runs and " UTC" in runs
        _shot(page, "runs")
        _assert_fits(page, "runs list")

        page.goto(f"{page.base}/admin/scheduler_app/schedulerinstance/dashboard/")
        page.wait_for_selector("#console-timeline svg")
        assert page.locator("#console-zone").inner_text() == "times in UTC"
        _shot(page, "dashboard")
        _assert_fits(page, "dashboard")

        definition = JobDefinition.objects.get(job_id="scrape_jobs_task")
        page.goto(f"{page.base}/admin/scheduler_app/jobdefinition/{definition.pk}/change/")
        page.wait_for_selector("#job-recent-runs")
        assert page.locator("#job-next-fires tbody tr").count() == 10
        assert "in UTC" in page.locator(".field-cron .help").inner_text()
        _shot(page, "job")
        _assert_fits(page, "job page")

        page.goto(f"{page.base}/admin/scheduler_app/jobrun/{made['live'].pk}/change/")
        assert page.locator('meta[http-equiv="refresh"]').count() == 1  # a live run's page refreshes
        assert "of its timeout 10 min" in page.locator(".field-progress_text").inner_text()
        _shot(page, "run")
    finally:
        lease.release()


@pytest.mark.browser
def test_a_killed_holder_is_shown_silent_within_5_s(console_page, real_redis, subprocess_env, settings):
    """Silent: a RUNNING run whose heartbeat is older than max(lease/2, lease/3 + 1 s); with a 3 s lease, 2 s (the
    heartbeat comes every second), so the dashboard says so 2-3 s after kill -9, without waiting for the reaper."""
    page = console_page
    settings.LOCK_LEASE_SECONDS = 3.0
    proc = manage("runjob", "hold_job", "--param", "seconds=120", env={**subprocess_env, "LOCK_LEASE_SECONDS": "3"})
    try:
        run = wait_for(lambda: JobRun.objects.filter(job_id="hold_job", status="RUNNING").first(), timeout=60,
                       message="the holder's run to be RUNNING")
        page.goto(f"{page.base}/admin/scheduler_app/schedulerinstance/dashboard/")
        row = page.locator("#job-hold_job")
        assert row.get_attribute("data-state") == "running", row.inner_text()
        assert f"#{run.pk}" in row.inner_text()
        os.kill(proc.pid, signal.SIGKILL)
        killed = time.monotonic()
        proc.wait(5)
        while True:
            page.goto(f"{page.base}/admin/scheduler_app/schedulerinstance/dashboard/")
            row = page.locator("#job-hold_job")
            if row.get_attribute("data-state") == "silent":
                break
            assert time.monotonic() - killed < 5, f"not silent 5 s after the kill: {row.inner_text()}"
            page.wait_for_timeout(250)
        took = time.monotonic() - killed
        text = row.inner_text()
        assert "silent for" in text and "considered dead at 3 s" in text, text
        assert took < 5
        _shot(page, "silent")
        assert JobRun.objects.get(pk=run.pk).status == "RUNNING"  # nobody reaped it: the console saw it first
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.browser
def test_timeline_bars_and_marks_link_to_their_runs(console_page, real_redis):
    page = console_page
    made = _demo_runs()
    failed = next(run for run in made["check_follow_ups_task"] if run.status == "FAILED")
    skipped = next(run for run in made["quick_job"] if run.status == "SKIPPED")
    page.goto(f"{page.base}/admin/scheduler_app/schedulerinstance/dashboard/")
    bar = page.locator(f'#console-timeline a[data-run="{failed.pk}"]')
    bar.click()
    page.wait_for_url(f"**/admin/scheduler_app/jobrun/{failed.pk}/change/")
    assert "FAILED" in page.locator("#content").inner_text()
    assert page.locator("#run-logs-link").get_attribute("href").endswith(f"?run_id={failed.pk}")
    _shot(page, "timeline-run")

    definition = JobDefinition.objects.get(job_id="quick_job")
    page.goto(f"{page.base}/admin/scheduler_app/jobdefinition/{definition.pk}/change/")
    page.locator(f'#job-timeline a[data-run="{skipped.pk}"]').click()
    page.wait_for_url(f"**/admin/scheduler_app/jobrun/{skipped.pk}/change/")
    assert "SKIPPED" in page.locator("#content").inner_text()
