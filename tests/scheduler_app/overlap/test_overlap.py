"""Overlap policies on every trigger, against real Redis: skip, wait, queue_one (one queued run, started right
after the holder; queue_full beyond it; a row that survives its waiter's kill -9) and replace (the holder ends
CANCELLED/replaced, in this process or another, and the new run succeeds; never two RUNNING at once)."""

from __future__ import annotations

import os
import subprocess
import threading
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.utils import timezone

from scheduler_app import overlap as overlaps
from scheduler_app import registry, services
from scheduler_app.definitions import job_definitions_sync
from scheduler_app.locks.base import HOST
from scheduler_app.models import JobDefinition, JobRun
from scheduler_app.registry import JobSpec
from scheduler_app.scheduler.fire import job_fire
from scheduler_app.services import job_run
from tests.conftest import bearer, manage, wait_finished
from tests.scheduler_app.overlap import jobs_overlap
from tests.scheduler_app.overlap.jobs_overlap import assert_no_overlap, intervals
from tests.scraping_app.conftest import make_source
from tests.waiting import wait_for

JOB = "overlap_job"
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_redis]


@pytest.fixture
def files(tmp_path, monkeypatch):
    record, release = tmp_path / "record.txt", tmp_path / "release"
    monkeypatch.setenv("OVERLAP_RECORD", str(record))
    monkeypatch.setenv("OVERLAP_RELEASE", str(release))
    return {"record": str(record), "release_file": str(release), "release": lambda: release.touch()}


@pytest.fixture
def env(subprocess_env):
    return {**subprocess_env, "LOCK_LEASE_SECONDS": "1.5",
            "EXTRA_JOB_MODULES": f"{subprocess_env['EXTRA_JOB_MODULES']},{jobs_overlap.__name__}"}


def _policy(policy: str, wait_seconds: float = 0) -> None:
    job_definitions_sync()
    JobDefinition.objects.filter(job_id=JOB).update(overlap_policy=policy, wait_seconds=wait_seconds)


def _params(files, tag: str = "") -> dict:
    return {"record": files["record"], "release_file": files["release_file"], "tag": tag}


def _holder(files) -> JobRun:
    run = job_run(job_id=JOB, trigger="api", params=_params(files, "holder"), background=True)
    assert run.status == JobRun.Status.RUNNING
    return run


def _queued_row() -> JobRun:
    return wait_for(lambda: JobRun.objects.filter(job_id=JOB, status="QUEUED", blocked_by__overlap="queue_one")
                    .first(), timeout=60, message="a queued run")


def _started_after(first: int, second: int, record: str | None) -> None:
    if record is not None:
        spans = intervals(record)
        assert spans[second][0] >= spans[first][1]
    a, b = JobRun.objects.get(pk=first), JobRun.objects.get(pk=second)
    assert b.started_at >= a.finished_at


# --- the choice ----------------------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=False)
@pytest.mark.parametrize(("definition", "wait", "overlap", "wait_seconds", "expected"), [
    ("skip", 0, None, None, ("skip", 0)),
    ("queue_one", 0, None, None, ("queue_one", 0)),
    ("queue_one", 0, None, 0, ("queue_one", 0)),  # an explicit 0 is no choice of policy
    ("skip", 0, None, 5, ("wait", 5)),  # wait_seconds > 0 alone means wait (backward compatible)
    ("replace", 0, None, 5, ("wait", 5)),
    ("wait", 7, None, None, ("wait", 7)),
    ("wait", 7, None, 0, ("skip", 0)),  # explicit 0: fail fast, as before
    ("skip", 7, "wait", None, ("wait", 7)),  # wait without a budget: the definition's
    ("skip", 0, "wait", None, ("skip", 0)),  # wait with 0 behaves as skip
    ("skip", 0, "wait", 3, ("wait", 3)),
    ("wait", 7, "replace", None, ("replace", 0)),
    ("wait", 7, "skip", None, ("skip", 0)),
])
def test_the_trigger_chooses_else_the_definition(definition, wait, overlap, wait_seconds, expected):
    choice = overlaps.overlap_choose(definition_policy=definition, definition_wait=wait, overlap=overlap,
                                     wait_seconds=wait_seconds)
    assert (choice.policy, choice.wait_seconds) == expected


@pytest.mark.django_db(transaction=False)
def test_an_unknown_policy_is_refused():
    with pytest.raises(overlaps.InvalidOverlap):
        overlaps.overlap_choose(definition_policy="skip", definition_wait=0, overlap="later", wait_seconds=None)


# --- skip and wait -------------------------------------------------------------------------------------------------

def test_skip_and_wait_direct(real_redis, files):
    _policy("skip")
    holder = _holder(files)
    skipped = job_run(job_id=JOB, trigger="direct", params=_params(files))
    assert (skipped.status, skipped.skip_reason) == ("SKIPPED", "lock_held")
    _policy("wait", wait_seconds=60)
    waiter = job_run(job_id=JOB, trigger="direct", params=_params(files), background=True, overlap="skip")
    assert waiter.status == "SKIPPED"  # the trigger's own choice wins
    files["release"]()
    wait_finished(holder.pk)
    assert job_run(job_id=JOB, trigger="direct", params=_params(files)).status == "SUCCEEDED"


# --- queue_one -----------------------------------------------------------------------------------------------------

def test_queue_one_api_queues_one_and_refuses_a_second(real_redis, files, staff_api):
    holder = _holder(files)
    body = {"job_id": JOB, "overlap": "queue_one", "params": _params(files, "queued")}
    queued = staff_api.post("/api/v1/scheduler/job", body, format="json")
    assert queued.status_code == 202, queued.json()
    assert queued.json()["status"] == "QUEUED"
    assert queued.json()["detail"] == f"queued behind run #{holder.pk}"
    queued_id = queued.json()["run_id"]

    full = staff_api.post("/api/v1/scheduler/job", body, format="json")
    assert full.status_code == 409
    refusal = full.json()
    assert refusal["queued_run_id"] == queued_id
    assert refusal["error"] == f"A run is already queued: run #{queued_id} (behind run #{holder.pk})"
    refused = JobRun.objects.get(pk=refusal["run_id"])
    assert (refused.status, refused.skip_reason) == ("SKIPPED", "queue_full")

    detail = staff_api.get(f"/api/v1/scheduler/runs/{queued_id}").json()
    assert detail["status"] == "QUEUED" and detail["overlap_note"] == f"queued behind run #{holder.pk}"
    files["release"]()
    assert wait_finished(queued_id).status == "SUCCEEDED"
    assert assert_no_overlap(files["record"]) == [holder.pk, queued_id]
    _started_after(holder.pk, queued_id, files["record"])


def test_queue_one_direct_call_waits_for_its_own_result(real_redis, files):
    _policy("queue_one")
    holder = _holder(files)
    result = {}
    caller = threading.Thread(target=lambda: result.setdefault(
        "value", jobs_overlap.overlap_job(**_params(files, "direct"))))
    caller.start()
    queued = _queued_row()
    assert queued.trigger == "direct"
    files["release"]()
    caller.join(timeout=60)
    assert result["value"] == {"tag": "direct"}
    _started_after(holder.pk, queued.pk, files["record"])


def test_queue_one_scheduled_fires_queue_the_next_slot(real_redis, files):
    """A slow job's next slot runs right after it; the one after that finds the queue full."""
    _policy("queue_one")
    slot = timezone.now().replace(microsecond=0)
    first = job_fire(JOB, scheduled_for=slot)  # detached: the scheduler's worker is free at once
    assert JobRun.objects.get(pk=first).status == "RUNNING"
    second = job_fire(JOB, scheduled_for=slot + timedelta(minutes=1))
    assert JobRun.objects.get(pk=second).status == "QUEUED"
    third = job_fire(JOB, scheduled_for=slot + timedelta(minutes=2))
    assert (JobRun.objects.get(pk=third).status, JobRun.objects.get(pk=third).skip_reason) == (
        "SKIPPED", "queue_full")
    files["release"]()
    assert wait_finished(second).status == "SUCCEEDED"
    assert assert_no_overlap(files["record"]) == [first, second]
    _started_after(first, second, files["record"])


@pytest.mark.slow
def test_queue_one_cli_waits_for_its_queued_run(real_redis, files, env):
    holder = _holder(files)
    args = ["runjob", JOB, "--overlap", "queue_one", "--param", f"record={files['record']}",
            "--param", f"release_file={files['release_file']}"]
    waiter = manage(*args, env=env)
    try:
        queued = _queued_row()
        assert queued.trigger == "cli"
        full = manage(*args, env=env)
        out, err = full.communicate(timeout=60)
        assert full.returncode == 3, (out, err)
        assert f"A run is already queued: run #{queued.pk}" in err
        files["release"]()
        out, err = waiter.communicate(timeout=60)
        assert waiter.returncode == 0, (out, err)
        assert f"run {queued.pk}  job {JOB}  status SUCCEEDED" in out
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert assert_no_overlap(files["record"]) == [holder.pk, queued.pk]


@pytest.mark.slow
def test_queue_one_survives_a_kill_of_the_process_that_queued_it(real_redis, files, env):
    """The waiter (a runjob) is killed -9 while queued; the holder (another runjob) starts the queued row when it
    ends, and stays up until that run has ended."""
    params = ["--param", f"record={files['record']}", "--param", f"release_file={files['release_file']}"]
    holder = manage("runjob", JOB, *params, env=env)
    waiter = None
    try:
        holder_id = wait_for(lambda: JobRun.objects.filter(job_id=JOB, status="RUNNING").values_list(
            "pk", flat=True).first(), timeout=60, message="the holder's run")
        waiter = manage("runjob", JOB, "--overlap", "queue_one", *params, env=env)
        queued = _queued_row()
        assert queued.pid == waiter.pid
        waiter.kill()
        waiter.wait(timeout=30)  # reaped: its pid is gone from this host
        files["release"]()
        assert wait_finished(queued.pk).status == "SUCCEEDED"
        out, err = holder.communicate(timeout=60)
        assert holder.returncode == 0, (out, err)
    finally:
        for proc in (holder, waiter):
            if proc is not None and proc.poll() is None:
                proc.kill()
    assert assert_no_overlap(files["record"]) == [holder_id, queued.pk]
    _started_after(holder_id, queued.pk, files["record"])
    assert JobRun.objects.filter(pk=queued.pk, trigger="cli").exists()


def test_the_reaper_starts_a_queued_run_whose_waiter_is_gone(real_redis, files):
    """Nobody holds the key and the queued run's waiter died: the scheduler's housekeeping starts it, once."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    job_definitions_sync()
    run = JobRun.objects.create(job_id=JOB, lock_key=JOB, trigger="api", params=_params(files, "orphan"),
                                timeout_seconds=60, host=HOST, pid=gone.pid, heartbeat_at=timezone.now(),
                                blocked_by={"overlap": "queue_one", "queued_behind": 1,
                                            "waiter": {"host": HOST, "pid": gone.pid}})
    files["release"]()
    assert services.reaper_run()["queued_started"] == 1
    assert wait_finished(run.pk).status == "SUCCEEDED"
    assert services.reaper_run()["queued_started"] == 0


def test_a_live_waiters_queued_run_is_left_to_it(real_redis, files):
    job_definitions_sync()
    run = JobRun.objects.create(job_id=JOB, lock_key=JOB, trigger="api", params=_params(files),
                                timeout_seconds=60, heartbeat_at=timezone.now(),
                                blocked_by={"overlap": "queue_one", "queued_behind": 1,
                                            "waiter": {"host": HOST, "pid": os.getpid()}})
    assert services.reaper_run()["queued_started"] == 0
    assert JobRun.objects.get(pk=run.pk).status == "QUEUED"


# --- replace -------------------------------------------------------------------------------------------------------

def test_replace_api_cancels_the_holder_in_this_process(real_redis, files, staff_api):
    holder = _holder(files)
    response = staff_api.post("/api/v1/scheduler/job", {"job_id": JOB, "overlap": "replace",
                                                         "params": _params(files, "new")}, format="json")
    assert response.status_code == 202, response.json()
    new_id = response.json()["run_id"]
    old = JobRun.objects.get(pk=holder.pk)
    assert (old.status, old.skip_reason, old.error) == ("CANCELLED", "replaced", f"replaced by run #{new_id}")
    detail = staff_api.get(f"/api/v1/scheduler/runs/{holder.pk}").json()
    assert detail["overlap_note"] == f"replaced by run #{new_id}"
    files["release"]()
    assert wait_finished(new_id).status == "SUCCEEDED"
    assert assert_no_overlap(files["record"]) == [holder.pk, new_id]


def test_replace_scheduled_fire_replaces(real_redis, files):
    _policy("replace")
    slot = timezone.now().replace(microsecond=0)
    first = job_fire(JOB, scheduled_for=slot)
    second = job_fire(JOB, scheduled_for=slot + timedelta(minutes=1))
    old = wait_finished(first)
    assert (old.status, old.skip_reason, old.error) == ("CANCELLED", "replaced", f"replaced by run #{second}")
    files["release"]()
    assert wait_finished(second).status == "SUCCEEDED"
    assert assert_no_overlap(files["record"]) == [first, second]


def test_replace_also_ends_the_queued_run(real_redis, files):
    holder = _holder(files)
    queued = job_run(job_id=JOB, trigger="api", params=_params(files), background=True, overlap="queue_one")
    assert queued.status == "QUEUED"
    new = job_run(job_id=JOB, trigger="admin", params=_params(files), background=True, overlap="replace")
    assert new.status == "RUNNING"
    ended = wait_finished(queued.pk)
    assert (ended.status, ended.skip_reason) == ("CANCELLED", "replaced")
    assert JobRun.objects.get(pk=holder.pk).skip_reason == "replaced"
    files["release"]()
    wait_finished(new.pk)


@pytest.mark.slow
def test_replace_cli_replaces_a_holder_in_another_process(real_redis, files, env):
    """The holder is a runjob looping on ctx.check(); a second runjob with --overlap replace asks it (through the
    cancel flag its heartbeat reads) to stop, waits for its release, and runs. Never two RUNNING at once."""
    params = ["--param", f"record={files['record']}", "--param", f"release_file={files['release_file']}"]
    holder = manage("runjob", JOB, *params, env=env)
    try:
        holder_id = wait_for(lambda: JobRun.objects.filter(job_id=JOB, status="RUNNING").values_list(
            "pk", flat=True).first(), timeout=60, message="the holder's run")
        replacer = manage("runjob", JOB, "--overlap", "replace", *params, env=env)
        assert holder.wait(timeout=60) == 1  # CANCELLED, at its next ctx.check()
        files["release"]()
        out, err = replacer.communicate(timeout=90)
        assert replacer.returncode == 0, (out, err)
    finally:
        if holder.poll() is None:
            holder.kill()
    old = JobRun.objects.get(pk=holder_id)
    new = JobRun.objects.filter(job_id=JOB).exclude(pk=holder_id).get()
    assert (old.status, old.skip_reason, old.error) == ("CANCELLED", "replaced", f"replaced by run #{new.pk}")
    assert new.status == "SUCCEEDED" and new.trigger == "cli"
    assert assert_no_overlap(files["record"]) == [holder_id, new.pk]


# --- entry points: input -------------------------------------------------------------------------------------------

def test_an_invalid_overlap_is_400_and_a_usage_error(real_redis, staff_api, env):
    response = staff_api.post("/api/v1/scheduler/job", {"job_id": "quick_job", "overlap": "later"}, format="json")
    assert response.status_code == 400 and "overlap" in response.json()
    scrape = staff_api.post("/api/v1/jobs/scrape", {"keyword": "x", "overlap": "later"}, format="json")
    assert scrape.status_code == 400
    proc = manage("runjob", "quick_job", "--overlap", "later", env=env)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "invalid choice" in err
    assert not JobRun.objects.exists()


def test_definition_edit_sets_the_policy_and_wait_needs_a_budget(real_redis, staff_api):
    url = "/api/v1/scheduler/jobs/quick_job"
    job_definitions_sync()
    refused = staff_api.patch(url, {"overlap_policy": "wait", "wait_seconds": 0}, format="json")
    assert refused.status_code == 400 and "wait_seconds" in refused.json()
    ok = staff_api.patch(url, {"overlap_policy": "queue_one"}, format="json")
    assert ok.status_code == 200 and ok.json()["overlap_policy"] == "queue_one"
    ok = staff_api.patch(url, {"overlap_policy": "wait", "wait_seconds": 5}, format="json")
    assert ok.status_code == 200 and ok.json()["overlap_policy"] == "wait"
    assert JobDefinition.objects.get(job_id="quick_job").overlap_policy == "wait"


def test_a_queued_scrape_answers_once_it_has_run(real_redis, users, settings):
    """jobs/scrape is synchronous: with overlap=queue_one a request made during a scrape waits for its own run."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "overlap-scrape-tests"}}
    make_source("sample", name="Slow sample", params={"delay_seconds": 0.2, "page_size": 5})
    url = "/api/v1/jobs/scrape?keyword=python&limit=5"
    first: dict = {}

    def slow_request():
        try:
            first["response"] = bearer(users["member"]).get(url)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_request)
    thread.start()
    holder = wait_for(lambda: JobRun.objects.filter(job_id="scrape_jobs_task", status="RUNNING").first(),
                      timeout=30, message="the first scrape")
    second = bearer(users["staff"]).get(url + "&overlap=queue_one")
    thread.join(30)
    assert first["response"].status_code == 200
    assert second.status_code == 200 and second.json()["status"] == "SUCCEEDED", second.json()
    queued = JobRun.objects.get(pk=second.json()["run_id"])
    assert queued.blocked_by["queued_behind"] == holder.pk
    _started_after(holder.pk, queued.pk, None)


def test_the_decorators_wait_seeds_the_wait_policy(db):
    spec = JobSpec(job_id="patient_seed_job", func=lambda: None, name="Seed", timeout_minutes=1, wait_seconds=5)
    registry.register(spec)
    try:
        job_definitions_sync()
    finally:
        registry._registry.pop(spec.job_id)
    assert JobDefinition.objects.get(job_id="patient_seed_job").overlap_policy == "wait"
    assert JobDefinition.objects.get(job_id="quick_job").overlap_policy == "skip"


def test_an_old_queued_run_of_a_live_waiter_is_not_abandoned(real_redis, files):
    """The reaper ends QUEUED rows whose trigger died long ago; a queue_one row waits as long as its holder runs."""
    job_definitions_sync()
    old = timezone.now() - timedelta(hours=1)
    live = JobRun.objects.create(job_id=JOB, lock_key=JOB, trigger="api", params=_params(files),
                                 timeout_seconds=60, heartbeat_at=timezone.now(),
                                 blocked_by={"overlap": "queue_one", "queued_behind": 1,
                                             "waiter": {"host": HOST, "pid": os.getpid()}})
    plain = JobRun.objects.create(job_id=JOB, lock_key=JOB, trigger="api", timeout_seconds=60)
    JobRun.objects.filter(pk__in=[live.pk, plain.pk]).update(created_at=old)
    services.reaper_run()
    assert JobRun.objects.get(pk=live.pk).status == "QUEUED"
    assert JobRun.objects.get(pk=plain.pk).status == "ABANDONED"


def _admin_action(client, action: str) -> list[str]:
    pk = JobDefinition.objects.get(job_id=JOB).pk
    response = client.post("/admin/scheduler_app/jobdefinition/", {"action": action, "_selected_action": [pk]},
                           follow=True)
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_admin_run_now_queue_one_and_replace(real_redis, files, client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@localhost", "pw"))
    job_definitions_sync()
    holder = _holder(files)
    messages = _admin_action(client, "run_now_queue_one")
    queued = JobRun.objects.get(job_id=JOB, trigger="admin", status="QUEUED")
    assert any("queued run" in m and f"#{queued.pk}" in m and f"queued behind run #{holder.pk}" in m
               for m in messages), messages
    messages = _admin_action(client, "run_now_queue_one")
    assert any(f"A run is already queued: run #{queued.pk}" in m for m in messages), messages

    replacing = _admin_action(client, "run_now_replace")
    new = JobRun.objects.filter(job_id=JOB, trigger="admin", status="RUNNING").get()
    assert any("started run" in m and f"#{new.pk}" in m for m in replacing), replacing
    assert JobRun.objects.get(pk=holder.pk).error == f"replaced by run #{new.pk}"
    assert JobRun.objects.get(pk=queued.pk).status == "CANCELLED"
    files["release"]()
    assert wait_finished(new.pk).status == "SUCCEEDED"
    assert assert_no_overlap(files["record"]) == [holder.pk, new.pk]


def test_the_runs_list_says_what_the_policy_did(real_redis, files, client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@localhost", "pw"))
    holder = _holder(files)
    queued = job_run(job_id=JOB, trigger="api", params=_params(files), background=True, overlap="queue_one")
    page = client.get("/admin/scheduler_app/jobrun/").content.decode()
    assert f"queued behind run #{holder.pk}" in page
    new = job_run(job_id=JOB, trigger="api", params=_params(files), background=True, overlap="replace")
    page = client.get("/admin/scheduler_app/jobrun/").content.decode()
    assert f"replaced by run #{new.pk}" in page
    detail = client.get(f"/admin/scheduler_app/jobrun/{holder.pk}/change/").content.decode()
    assert f"replaced by run #{new.pk}" in detail
    assert JobRun.objects.get(pk=queued.pk).status == "CANCELLED"
    files["release"]()
    wait_finished(new.pk)
