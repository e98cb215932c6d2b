"""The operator console's admin pages through Django's test client: the job page (runs, next fires, Run now), the
run pages (columns, filters, links, progress, refresh), the database locks page, the header's zone, messages as
written, and bounded queries on the list pages however many jobs and runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from scheduler_app import locks
from scheduler_app.models import DatabaseLock, JobDefinition, JobRun

CHANGELIST = "/admin/scheduler_app/jobdefinition/"
RUNS = "/admin/scheduler_app/jobrun/"
DASHBOARD = "/admin/scheduler_app/schedulerinstance/dashboard/"


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@localhost", "pw")
    client.force_login(user)
    client.user = user
    return client


def _run(job_id: str = "quick_job", status: str = "SUCCEEDED", **fields) -> JobRun:
    return JobRun.objects.create(job_id=job_id, lock_key=fields.pop("lock_key", job_id), trigger="scheduled",
                                 status=status, **fields)


def _many(jobs: int, runs_each: int) -> None:
    JobDefinition.objects.bulk_create([JobDefinition(job_id=f"bulk_{i}", name=f"Bulk {i}", cron="*/5 * * * *",
                                                     timeout_minutes=1) for i in range(jobs)])
    now = timezone.now()
    JobRun.objects.bulk_create([
        JobRun(job_id=f"bulk_{i}", lock_key=f"bulk_{i}", trigger="scheduled", status=status, started_at=now,
               finished_at=now, duration_ms=5, host="h", pid=1)
        for i in range(jobs) for status in (["SUCCEEDED", "FAILED", "SKIPPED"] * runs_each)[:runs_each]])


@pytest.mark.django_db
def test_list_pages_make_a_bounded_number_of_queries(staff, fake_redis, django_assert_max_num_queries):
    staff.get(CHANGELIST)  # warm the session, content types, permissions
    _many(2, 3)
    counts = {}
    for url in (CHANGELIST, RUNS, DASHBOARD, "/admin/logs_app/logentry/", "/admin/scheduler_app/databaselock/"):
        with django_assert_max_num_queries(20) as few:
            assert staff.get(url).status_code == 200
        counts[url] = len(few.captured_queries)
    JobDefinition.objects.filter(job_id__startswith="bulk_").delete()
    _many(60, 30)  # 60 more jobs, 1,800 runs
    for url, before in counts.items():
        with django_assert_max_num_queries(20) as many:
            assert staff.get(url).status_code == 200
        assert len(many.captured_queries) == before, (url, [q["sql"][:120] for q in many.captured_queries])


@pytest.mark.django_db
def test_job_list_shows_words_cron_zone_state_outcomes_and_counts(staff, fake_redis):
    failed = _run(status="LOST_LOCK", finished_at=timezone.now())
    _run(status="SKIPPED", skip_reason="lock_held")
    html = staff.get(CHANGELIST).content.decode()
    row = html.split("<code>quick_job</code>")[1].split("</tr>")[0]
    assert f'failed: <span class="console-status" style="color:#6a1b9a">LOST_LOCK</span> <a href="/admin/' \
           f'scheduler_app/jobrun/{failed.pk}/change/">#{failed.pk}</a>' in row  # not hidden by the later SKIPPED
    assert "1 failed" in row and "1 skipped" in row and "idle" in row
    assert 'id="console-zone"' in html and "times in UTC" in html


@pytest.mark.django_db
def test_the_header_names_a_non_utc_zone_and_the_cron_help_names_it(staff, settings, fake_redis):
    settings.TIME_ZONE = "Europe/Berlin"
    definition = JobDefinition.objects.get(job_id="scrape_jobs_task")
    html = staff.get(f"{CHANGELIST}{definition.pk}/change/").content.decode()
    assert "times in Europe/Berlin (CE" in html  # CET or CEST, with the offset
    assert "Five-field crontab, in Europe/Berlin" in html


@pytest.mark.django_db
def test_job_page_has_recent_runs_next_fires_timeline_and_run_now(staff, fake_redis):
    definition = JobDefinition.objects.get(job_id="scrape_jobs_task")
    made = [_run("scrape_jobs_task", started_at=timezone.now(), finished_at=timezone.now(), duration_ms=1500)
            for _ in range(22)]
    html = staff.get(f"{CHANGELIST}{definition.pk}/change/").content.decode()
    recent = html.split('id="job-recent-runs"')[1].split("</table>")[0]
    assert recent.count("/admin/scheduler_app/jobrun/") == 20 and f"#{made[-1].pk}" in recent
    assert f">#{made[1].pk}</a>" not in recent and "<td>2 s</td>" in recent
    fires = html.split('id="job-next-fires"')[1].split("</table>")[0]
    assert fires.count("<tr><td>") == 10 and fires.count(":00:00 UTC<") + fires.count(":30:00 UTC<") == 10
    assert html.split('id="job-timeline"')[1].count('data-run="') == 22
    form = html.split('id="console-run-now-form"')[1].split("</form>")[0]
    assert 'name="action" value="run_now"' in form and f'name="_selected_action" value="{definition.pk}"' in form


@pytest.mark.django_db
def test_a_job_in_its_own_zone_edits_lists_and_previews_in_it(staff, settings, fake_redis):
    settings.TIME_ZONE = "UTC"
    definition = JobDefinition.objects.get(job_id="check_follow_ups_task")
    url = f"{CHANGELIST}{definition.pk}/change/"
    form = {"name": definition.name, "trigger_type": "cron", "cron": "30 2 * * *", "interval_seconds": "",
            "timeout_minutes": "5", "enabled": "on", "lock_scope": "job", "wait_seconds": "0"}
    refused = staff.post(url, {**form, "time_zone": "Mars/Olympus_Mons"})
    assert refused.status_code == 200 and "Unknown time zone &#x27;Mars/Olympus_Mons&#x27;" in refused.content.decode()
    assert staff.post(url, {**form, "time_zone": "Europe/Berlin"}).status_code == 302
    definition.refresh_from_db()
    assert definition.time_zone == "Europe/Berlin"
    listing = staff.get(CHANGELIST).content.decode()
    assert "daily at 02:30 Europe/Berlin" in listing.split("<code>check_follow_ups_task</code>")[1].split("</tr>")[0]
    html = staff.get(url).content.decode()
    assert 'name="time_zone" value="Europe/Berlin"' in html
    fires = html.split('id="job-next-fires"')[1].split("</table>")[0]
    assert "Next fire times (Europe/Berlin)" in fires and fires.count("<tr><td>") == 10
    assert fires.count(" 02:30:00 CET<") + fires.count(" 02:30:00 CEST<") >= 9  # one may be a 03:00 after a gap


@pytest.mark.django_db(transaction=True)
def test_the_run_now_button_posts_to_the_run_now_action(staff, fake_redis):
    definition = JobDefinition.objects.get(job_id="quick_job")
    response = staff.post(CHANGELIST, {"action": "run_now", "_selected_action": [str(definition.pk)], "index": "0"},
                          follow=True)
    run = JobRun.objects.get(job_id="quick_job")
    assert run.trigger == "admin" and run.user == staff.user
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(f"#{run.pk}" in m for m in messages)
    # shown as written: "quick_job: started run ...", not "Quick_job: ..." (Django's capfirst)
    assert '<li class="success">quick_job: started run' in response.content.decode()


@pytest.mark.django_db
def test_runs_list_columns_and_the_failures_only_filter(staff, team):
    now = timezone.now()
    _run(status="FAILED", started_at=now, finished_at=now, duration_ms=2500, host="web-1", pid=42, team=team,
         user=staff.user)
    _run(status="TIMED_OUT")
    _run(status="SUCCEEDED")
    _run(status="SKIPPED", skip_reason="lock_held")
    listing = staff.get(RUNS)
    html = listing.content.decode()
    for header in ("Run", "Status", "Started", "Duration", "Trigger · who · team", "Host"):
        assert header in html
    assert "web-1:42" in html and "2 s" in html and "root · Team one" in html and " UTC</small>" in html
    failures = staff.get(RUNS, {"outcome": "failures"})
    assert sorted(r.status for r in failures.context["cl"].result_list) == ["FAILED", "TIMED_OUT"]
    assert [r.status for r in staff.get(RUNS, {"status__exact": "SKIPPED"}).context["cl"].result_list] == ["SKIPPED"]


@pytest.mark.django_db
def test_run_page_links_to_job_lock_blocker_and_logs(staff):
    definition = JobDefinition.objects.get(job_id="quick_job")
    holder = _run(status="SUCCEEDED")
    blocked = _run(status="SKIPPED", skip_reason="lock_held",
                   blocked_by={"holder": {"run_id": holder.pk, "host": "h", "pid": 1}, "ttl_seconds": 20})
    html = staff.get(f"{RUNS}{blocked.pk}/change/").content.decode()
    assert f'href="{CHANGELIST}{definition.pk}/change/"' in html
    assert f'href="{DASHBOARD}#lock-quick_job"' in html
    assert f'href="{RUNS}{holder.pk}/change/" id="run-blocker-link"' in html
    assert f'href="/admin/logs_app/logentry/?run_id={blocked.pk}"' in html
    assert 'http-equiv="refresh"' not in html  # a finished run's page stays still


@pytest.mark.django_db
def test_a_live_run_page_shows_progress_and_refreshes(staff):
    now = timezone.now()
    run = _run(status="RUNNING", started_at=now - timedelta(seconds=30), heartbeat_at=now, timeout_seconds=120)
    html = staff.get(f"{RUNS}{run.pk}/change/").content.decode()
    assert '<meta http-equiv="refresh" content="5">' in html
    assert "30 s of its timeout 2 min" in html and '<progress max="100" value="25">' in html


def test_progress_reads_per_task_counts_when_the_run_has_them():
    from scheduler_app import admin_display

    class Run:
        started_at = timezone.now() - timedelta(seconds=10)
        finished_at = None
        timeout_seconds = 100
        progress = {"greenhouse": {"done": 3, "total": 4}, "lever": {"done": 2, "total": None}}

    html = admin_display.progress_html(admin_display.run_progress(Run()))
    assert "greenhouse: 3 / 4 (75 %)" in html and "lever: 2 / ?" in html
    Run.progress = None  # the field not there yet, or empty
    assert "greenhouse" not in admin_display.progress_html(admin_display.run_progress(Run()))


@pytest.mark.django_db
def test_database_locks_page_shows_live_leases_holders_now_and_cleans_leftovers(staff, fake_redis):
    now = timezone.now()
    DatabaseLock.objects.create(key="hold_job", token="t" * 32, holder={"host": "db-host", "pid": 7, "run_id": None},
                                expires_at=now + timedelta(seconds=30))
    DatabaseLock.objects.create(key="quick_job", token="old", holder={"host": "gone", "pid": 1},
                                expires_at=now - timedelta(hours=2))  # left after an outage
    DatabaseLock.objects.create(key="failing_job")  # released
    lease = locks.acquire("scrape_jobs_task", ttl_seconds=60)  # held in Redis
    try:
        page = staff.get("/admin/scheduler_app/databaselock/")
        html = page.content.decode()
        assert [row.key for row in page.context["cl"].result_list] == ["hold_job"]  # live leases only
        assert "job_lock:scrape_jobs_task</code>: redis" in html  # who holds what now, any backend
        leftovers = staff.get("/admin/scheduler_app/databaselock/", {"rows": "leftover"})
        keys = sorted(row.key for row in leftovers.context["cl"].result_list)
        assert keys == ["failing_job", "quick_job"]
        pks = [str(pk) for pk in DatabaseLock.objects.values_list("pk", flat=True)]
        response = staff.post("/admin/scheduler_app/databaselock/?rows=all",
                              {"action": "delete_leftover_rows", "_selected_action": pks, "index": "0"}, follow=True)
    finally:
        lease.release()
    assert sorted(DatabaseLock.objects.values_list("key", flat=True)) == ["hold_job"]  # the live one stays
    assert any("Deleted leftover row(s): failing_job, quick_job." in str(m)
               for m in get_messages(response.wsgi_request))
    from scheduler_app.models import OperatorAction

    record = OperatorAction.objects.get(action="clean_database_locks")
    assert record.source == "admin" and record.outcome.endswith("deleted: failing_job, quick_job")


@pytest.mark.django_db
def test_database_locks_cleanup_service_never_deletes_a_live_lease():
    from scheduler_app import services

    now = timezone.now()
    DatabaseLock.objects.create(key="live", token="t", expires_at=now + timedelta(seconds=30))
    DatabaseLock.objects.create(key="expired", token="t", expires_at=now - timedelta(seconds=1))
    assert services.database_locks_cleanup(keys=["live"]) == []
    assert services.database_locks_cleanup() == ["expired"]
    assert list(DatabaseLock.objects.values_list("key", flat=True)) == ["live"]
