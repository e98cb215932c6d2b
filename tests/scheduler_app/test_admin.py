"""The scheduler's Django admin, through Django's test client. Actions go through the services."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from scheduler_app import locks
from scheduler_app.models import JobDefinition, JobRun, OperatorAction, SchedulerInstance
from tests.waiting import wait_for

CHANGELIST = "/admin/scheduler_app/jobdefinition/"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_client_(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@localhost", "pw")
    client.force_login(user)
    client.user = user
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _action(client, action: str, *job_ids: str):
    pks = [str(JobDefinition.objects.get(job_id=job_id).pk) for job_id in job_ids]
    return client.post(CHANGELIST, {"action": action, "_selected_action": pks}, follow=True)


@pytest.mark.django_db
def test_changelist_columns(admin_client_, fake_redis):
    lease = locks.acquire("quick_job", ttl_seconds=60)
    try:
        JobRun.objects.create(job_id="scrape_jobs_task", lock_key="scrape_jobs_task", trigger="api",
                              status="FAILED")
        response = admin_client_.get(CHANGELIST)
    finally:
        lease.release()
    html = response.content.decode()
    assert response.status_code == 200
    for header in ("Job", "Schedule", "Next fire", "State and holder", "Last outcomes", "24 h"):
        assert f">{header}<" in html or f">{header}</a>" in html
    assert f"{lease.holder.host}:{lease.holder.pid}" in html and "TTL" in html
    assert "FAILED" in html
    assert ":30:00 UTC" in html or ":00:00 UTC" in html  # scrape's next half hour, with seconds and zone
    assert "every 30 min" in html and '<code class="console-nowrap">*/30 * * * *</code>' in html


@pytest.mark.django_db(transaction=True)
def test_run_now_starts_a_run_through_the_lock(admin_client_, lock_redis):
    response = _action(admin_client_, "run_now", "quick_job")
    run = JobRun.objects.get(job_id="quick_job")
    assert run.trigger == "admin" and run.user == admin_client_.user
    assert any("started run" in m and f"#{run.pk}" in m for m in _messages(response))
    wait_for(lambda: JobRun.objects.get(pk=run.pk).is_finished, timeout=30, message=f"run {run.pk} to finish")
    assert JobRun.objects.get(pk=run.pk).status == "SUCCEEDED"


@pytest.mark.django_db(transaction=True)
def test_run_now_while_lock_held_is_a_clear_message_not_an_overlap(admin_client_, lock_redis):
    """Scenario 7: the admin's manual trigger cannot overlap a scheduled run."""
    scheduled = JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="scheduled",
                                      status="RUNNING")
    lease = locks.acquire("quick_job", ttl_seconds=60, run_id=scheduled.pk)
    try:
        response = _action(admin_client_, "run_now", "quick_job")
    finally:
        lease.release()
    messages = _messages(response)
    assert any("Job is already running" in m and f"run #{scheduled.pk}" in m and "TTL" in m for m in messages)
    refused = JobRun.objects.filter(job_id="quick_job", trigger="admin").get()
    assert refused.status == "SKIPPED" and refused.skip_reason == "lock_held"  # scenario 8: recorded, with reason
    assert refused.blocked_by["holder"]["run_id"] == scheduled.pk


@pytest.mark.django_db
def test_clear_lock_action(admin_client_, lock_redis):
    lease = locks.acquire("quick_job", ttl_seconds=60)
    try:
        response = _action(admin_client_, "clear_lock", "quick_job")
        assert "job_lock:quick_job cleared." in _messages(response)  # no holder's run: nothing to confirm
        assert locks.inspect("quick_job") is None
        response = _action(admin_client_, "clear_lock", "quick_job")
        assert "No lock was held for quick_job." in _messages(response)
    finally:
        lease.release()


@pytest.mark.django_db
def test_clear_lock_action_clears_every_team_key_of_a_team_scoped_job(admin_client_, lock_redis):
    first, second = locks.acquire("team_job:team:1", ttl_seconds=60), locks.acquire("team_job:team:2", ttl_seconds=60)
    other = locks.acquire("quick_job", ttl_seconds=60)
    try:
        response = _action(admin_client_, "clear_lock", "team_job")
        assert {"job_lock:team_job:team:1 cleared.", "job_lock:team_job:team:2 cleared."} <= set(_messages(response))
        assert locks.inspect("team_job:team:1") is None and locks.inspect("team_job:team:2") is None
        assert locks.inspect("quick_job") is not None  # another job's lock stays
    finally:
        for lease in (first, second, other):
            lease.release()


@pytest.mark.django_db
def test_clear_lock_on_a_live_holder_asks_first_and_offers_cancel(admin_client_, lock_redis):
    live = JobRun.objects.create(job_id="hold_job", lock_key="hold_job", trigger="scheduled", status="RUNNING",
                                 started_at=timezone.now(), heartbeat_at=timezone.now(), host="h", pid=7)
    lease = locks.acquire("hold_job", ttl_seconds=60, run_id=live.pk)
    try:
        page = _action(admin_client_, "clear_lock", "hold_job")
        html = page.content.decode()
        assert page.status_code == 200 and "does not stop it" in html and "sets the key again within" in html
        assert f"/admin/scheduler_app/jobrun/{live.pk}/cancel/" in html  # Cancel run instead
        assert locks.inspect("hold_job") is not None  # nothing cleared yet
        assert not OperatorAction.objects.exists()

        pk = str(JobDefinition.objects.get(job_id="hold_job").pk)
        done = admin_client_.post(CHANGELIST, {"action": "clear_lock", "_selected_action": [pk], "confirm": "yes"},
                                  follow=True)
        [message] = _messages(done)
        assert f"its holder, run #{live.pk}, is alive" in message and "cancel the run" in message
        assert locks.inspect("hold_job") is None
        record = OperatorAction.objects.get()
        assert (record.username, record.source, record.action, record.job_id, record.run_id) == (
            "root", "admin", "clear_lock", "hold_job", live.pk)
        assert record.outcome == message
    finally:
        lease.release()


@pytest.mark.django_db
def test_cancel_run_page_then_cancel(admin_client_, fake_redis):
    run = JobRun.objects.create(job_id="hold_job", lock_key="hold_job", trigger="api", status="RUNNING",
                                started_at=timezone.now(), heartbeat_at=timezone.now(), host="h", pid=7)
    change = admin_client_.get(f"/admin/scheduler_app/jobrun/{run.pk}/change/")
    assert f"/admin/scheduler_app/jobrun/{run.pk}/cancel/" in change.content.decode()
    confirm = admin_client_.get(f"/admin/scheduler_app/jobrun/{run.pk}/cancel/")
    assert confirm.status_code == 200 and "ends CANCELLED with your name" in confirm.content.decode()
    done = admin_client_.post(f"/admin/scheduler_app/jobrun/{run.pk}/cancel/", follow=True)
    [message] = _messages(done)
    assert "was asked to stop" in message
    run.refresh_from_db()
    assert run.cancel_requested_by == "root" and run.cancel_requested_at is not None
    assert "Cancel requested by root" in done.content.decode()
    assert OperatorAction.objects.get().action == "cancel_run"


@pytest.mark.django_db
def test_cancel_runs_action_on_the_runs_list(admin_client_, fake_redis):
    queued = JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="api", status="QUEUED")
    ended = JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="api", status="SUCCEEDED")
    response = admin_client_.post("/admin/scheduler_app/jobrun/",
                                  {"action": "cancel_runs", "_selected_action": [queued.pk, ended.pk]}, follow=True)
    messages = _messages(response)
    assert any(f"Run #{queued.pk}" in m and "CANCELLED" in m for m in messages)
    assert any(f"Run #{ended.pk}" in m and "already ended SUCCEEDED" in m for m in messages)
    assert JobRun.objects.get(pk=queued.pk).status == "CANCELLED"
    assert JobRun.objects.get(pk=ended.pk).status == "SUCCEEDED"  # terminal is final


@pytest.mark.django_db
def test_operator_actions_list(admin_client_, fake_redis):
    OperatorAction.objects.create(username="root", source="cli", action="clear_lock", job_id="quick_job",
                                  outcome="job_lock:quick_job cleared.")
    response = admin_client_.get("/admin/scheduler_app/operatoraction/")
    assert response.status_code == 200 and "job_lock:quick_job cleared." in response.content.decode()


@pytest.mark.django_db
def test_saving_a_definition_requests_a_reload(admin_client_, real_redis, settings):
    import redis

    from scheduler_app import selectors
    from scheduler_app.scheduler import control

    subscriber = redis.Redis.from_url(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)
    subscriber.subscribe(control.CHANNEL)
    subscriber.get_message(timeout=1)
    definition = JobDefinition.objects.get(job_id="scrape_jobs_task")
    before = selectors.job_definitions_version()
    url = f"{CHANGELIST}{definition.pk}/change/"
    form = {"name": "Job Scraping", "trigger_type": "cron", "cron": "*/15 * * * *", "interval_seconds": "",
            "timeout_minutes": "12", "enabled": "on", "lock_scope": "team", "wait_seconds": "5",
            "overlap_policy": "wait", "catch_up_policy": "latest", "catch_up_window_seconds": "",
            "jitter_seconds": "0"}
    try:
        response = admin_client_.post(url, form, follow=True)
        message = subscriber.get_message(timeout=2)  # every live scheduler hears it
    finally:
        subscriber.close()
    assert message and message["data"] == b"reload"
    assert response.status_code == 200
    assert any("reload" in m for m in _messages(response))
    definition.refresh_from_db()
    assert (definition.cron, definition.timeout_minutes, definition.lock_scope, definition.wait_seconds) == (
        "*/15 * * * *", 12, "team", 5)
    assert selectors.job_definitions_version() != before
    assert "job_id" not in admin_client_.get(url).context["adminform"].form.fields  # read-only once created


@pytest.mark.django_db
def test_jobrun_admin_is_read_only_with_filters_and_traceback(admin_client_):
    from scraping_app.models import Team

    Team.objects.create(name="filter team")
    run = JobRun.objects.create(job_id="failing_job", lock_key="failing_job", trigger="cli", status="FAILED",
                                traceback="Traceback (most recent call last):\n  RuntimeError: Test error")
    JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="api", status="SUCCEEDED")
    listing = admin_client_.get("/admin/scheduler_app/jobrun/?status__exact=FAILED&trigger__exact=cli")
    html = listing.content.decode()
    assert listing.status_code == 200 and f"/admin/scheduler_app/jobrun/{run.pk}/change/" in html
    assert listing.context["cl"].result_count == 1
    filters = {spec.title for spec in listing.context["cl"].filter_specs}
    assert {"job id", "status", "trigger", "team", "created at"} <= filters
    detail = admin_client_.get(f"/admin/scheduler_app/jobrun/{run.pk}/change/").content.decode()
    assert "RuntimeError: Test error" in detail and "<pre>" in detail
    assert 'name="_save"' not in detail
    assert admin_client_.get("/admin/scheduler_app/jobrun/add/").status_code == 403
    assert admin_client_.post(f"/admin/scheduler_app/jobrun/{run.pk}/delete/").status_code == 403


@pytest.mark.django_db
def test_lock_and_instance_admins_are_read_only(admin_client_):
    assert admin_client_.get("/admin/scheduler_app/databaselock/").status_code == 200
    assert admin_client_.get("/admin/scheduler_app/databaselock/add/").status_code == 403
    assert admin_client_.get("/admin/scheduler_app/schedulerinstance/").status_code == 200
    assert admin_client_.get("/admin/scheduler_app/schedulerinstance/add/").status_code == 403


@pytest.mark.django_db
def test_dashboard_linked_from_index_and_shows_everything(admin_client_, fake_redis):
    index = admin_client_.get("/admin/").content.decode()
    assert "/admin/scheduler_app/schedulerinstance/dashboard/" in index and "Scheduler dashboard" in index
    now = timezone.now()
    SchedulerInstance.objects.create(host="sched-host-1", pid=4242, started_at=now, heartbeat_at=now)
    for i, status in enumerate(["SUCCEEDED", "FAILED", "SKIPPED"] * 20):
        JobRun.objects.create(job_id="quick_job", lock_key="quick_job", trigger="scheduled", status=status,
                              duration_ms=10.0 * (i + 1))
    finished = JobRun.objects.filter(job_id="quick_job").first()
    fake_redis.set("job_lock:quick_job", f'{{"token":"t","run_id":{finished.pk},"host":"h","pid":1,'
                                         f'"acquired_at":0,"fence":1}}', px=60000)
    response = admin_client_.get("/admin/scheduler_app/schedulerinstance/dashboard/")
    html = response.content.decode()
    assert response.status_code == 200
    def section(table_id: str) -> str:
        return html.split(f'id="{table_id}"')[1].split("</table>")[0]

    assert '<span style="color:#2e7d32">running</span>' in html  # a fresh heartbeat: the scheduler is running
    instances = section("scheduler-instances")
    assert "<td>sched-host-1</td><td>4242</td>" in instances
    jobs = section("scheduler-jobs")
    assert "<strong>Job Scraping</strong><br><code>scrape_jobs_task</code>" in jobs
    scrape_row = jobs.split("<code>scrape_jobs_task</code>")[1].split("</tr>")[0]
    assert " UTC</small>" in scrape_row and "in " in scrape_row  # its next run, relative and absolute
    quick_row = jobs.split("<code>quick_job</code>")[1].split("</tr>")[0]
    run_url = f"/admin/scheduler_app/jobrun/{finished.pk}/change/"
    assert f'h:1 · run <a href="{run_url}">#{finished.pk}</a>' in quick_row  # the holder, its run linked
    assert "lock redis · TTL" in quick_row
    lock_rows = section("scheduler-locks")
    assert "job_lock:quick_job" in lock_rows
    assert f"<strong>stale</strong>: holder&#x27;s run is {finished.status}" in lock_rows
    cleanup = html.split('id="scheduler-locks"')[1].split("</form>")[0]
    assert 'value="Clean up stale locks" >' in cleanup or 'value="Clean up stale locks">' in cleanup  # enabled
    chart = html.split('data-job="quick_job"')[1].split("</g>")[0]
    assert chart.count("<rect") == 40 and chart.count("<circle") == 20  # runs as bars, skips as marks
    assert "#c62828" in chart and "#2e7d32" in chart  # outcomes by colour
    assert chart.count('<a href="/admin/scheduler_app/jobrun/') == 60  # each one links to its run
    assert "cdn" not in html.lower()


@pytest.mark.django_db
def test_dashboard_cleanup_button_clears_stale_locks_only(admin_client_, fake_redis, stale_and_live_locks):
    response = admin_client_.post("/admin/scheduler_app/schedulerinstance/dashboard/cleanup/", follow=True)
    assert any("quick_job" in m for m in _messages(response))
    assert locks.inspect("quick_job") is None and locks.inspect("hold_job") is not None


@pytest.mark.django_db
def test_non_staff_cannot_reach_the_dashboard(client, django_user_model):
    user = django_user_model.objects.create_user("plain", password="pw")
    client.force_login(user)
    response = client.get("/admin/scheduler_app/schedulerinstance/dashboard/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_recent_runs_per_job_are_the_newest_oldest_first():
    from scheduler_app import selectors

    made = [JobRun.objects.create(job_id=job_id, lock_key=job_id, trigger="api", status="SUCCEEDED").pk
            for _ in range(7) for job_id in ("quick_job", "hold_job")]
    recent = selectors.job_runs_recent_per_job(limit=5)
    quick = [pk for pk in made if JobRun.objects.get(pk=pk).job_id == "quick_job"]
    assert [run["id"] for run in recent["quick_job"]] == quick[-5:]
    assert len(recent["hold_job"]) == 5 and "blocking_job" not in recent


@pytest.mark.django_db
def test_a_run_stored_with_a_lone_surrogate_still_renders(admin_client_):
    """Only SQLite could store one (before input was checked); the run's page shows U+FFFD, not a 500."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL never stored such text")
    run = JobRun.objects.create(job_id="scrape_jobs_task", lock_key="scrape_jobs_task", trigger="api",
                                status="FAILED", params={"keyword": "py\ud800"})  # JSON stores it escaped
    response = admin_client_.get(f"/admin/scheduler_app/jobrun/{run.pk}/change/")
    assert response.status_code == 200
    assert "py\ufffd" in response.content.decode()
    assert admin_client_.get("/admin/scheduler_app/jobrun/").status_code == 200


@pytest.mark.django_db
def test_the_definition_form_shows_and_validates_the_catch_up_policy_and_jitter(admin_client_):
    definition = JobDefinition.objects.get(job_id="scrape_jobs_task")
    url = f"{CHANGELIST}{definition.pk}/change/"
    page = admin_client_.get(url).content.decode()
    assert 'name="catch_up_policy"' in page and 'name="catch_up_window_seconds"' in page
    assert 'name="jitter_seconds"' in page
    form = {"name": "Job Scraping", "trigger_type": "cron", "cron": "*/30 * * * *", "interval_seconds": "",
            "timeout_minutes": "10", "enabled": "on", "lock_scope": "job", "wait_seconds": "0",
            "overlap_policy": "skip", "catch_up_policy": "all_within", "catch_up_window_seconds": "",
            "jitter_seconds": "20"}
    response = admin_client_.post(url, form)
    assert response.status_code == 200 and "needs catch_up_window_seconds" in response.content.decode()
    response = admin_client_.post(url, {**form, "catch_up_window_seconds": "3600"}, follow=True)
    definition.refresh_from_db()
    assert (definition.catch_up_policy, definition.catch_up_window_seconds, definition.jitter_seconds) == (
        "all_within", 3600, 20)
