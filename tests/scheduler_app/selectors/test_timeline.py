"""The timeline read (last 24 h per job, capped), its SVG geometry, a job's next fire times, schedules in words."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from scheduler_app import admin_display
from scheduler_app.models import JobDefinition, JobRun
from scheduler_app.scheduler.triggers import schedule_words
from scheduler_app.selectors import job_next_fire_times, job_runs_timeline


def _run(job_id: str, status: str, **fields) -> JobRun:
    created = fields.pop("created_at", None)
    run = JobRun.objects.create(job_id=job_id, lock_key=job_id, trigger="scheduled", status=status, **fields)
    if created is not None:
        JobRun.objects.filter(pk=run.pk).update(created_at=created)
    return run


@pytest.mark.django_db
def test_timeline_keeps_the_last_24_hours_and_caps_each_job(django_assert_max_num_queries):
    now = timezone.now()
    _run("quick_job", "SUCCEEDED", created_at=now - timedelta(hours=30))  # outside the window
    kept = [_run("quick_job", "SUCCEEDED", created_at=now - timedelta(minutes=60 - i)).pk for i in range(7)]
    other = _run("hold_job", "FAILED").pk
    with django_assert_max_num_queries(1):
        data = job_runs_timeline(per_job=5)
    assert [run["id"] for run in data["jobs"]["quick_job"]["runs"]] == kept[-5:]
    assert data["jobs"]["quick_job"]["capped"] is True
    assert [run["id"] for run in data["jobs"]["hold_job"]["runs"]] == [other]
    assert data["jobs"]["hold_job"]["capped"] is False
    assert data["jobs"]["quick_job"]["runs"][0]["created_at"].utcoffset() is not None
    one = job_runs_timeline(job_id="hold_job")
    assert list(one["jobs"]) == ["hold_job"]


@pytest.mark.django_db
def test_timeline_geometry_bars_marks_and_links():
    now = timezone.now()
    ran = _run("quick_job", "SUCCEEDED", started_at=now - timedelta(hours=12), duration_ms=40,
               finished_at=now - timedelta(hours=12) + timedelta(milliseconds=40))
    live = _run("quick_job", "RUNNING", started_at=now - timedelta(hours=1))
    skipped = _run("quick_job", "SKIPPED", scheduled_for=now - timedelta(hours=6), skip_reason="lock_held")
    picture = admin_display.timeline(job_runs_timeline(now=now), ["hold_job", "quick_job"])
    hold, quick = picture["rows"]
    assert hold["bars"] == [] and hold["marks"] == []
    bars = {bar["id"]: bar for bar in quick["bars"]}
    assert bars[ran.pk]["w"] == admin_display.MIN_BAR  # a 40 ms run is still visible and clickable
    assert bars[ran.pk]["url"] == f"/admin/scheduler_app/jobrun/{ran.pk}/change/"
    plot = admin_display.TIMELINE_WIDTH - admin_display.TIMELINE_LABEL - 10
    assert abs(bars[ran.pk]["x"] - (admin_display.TIMELINE_LABEL + plot / 2)) < 1  # 12 h ago: the middle
    assert abs(bars[live.pk]["x"] + bars[live.pk]["w"] - (admin_display.TIMELINE_LABEL + plot)) < 1  # to now
    (mark,) = quick["marks"]
    assert mark["id"] == skipped.pk and abs(mark["cx"] - (admin_display.TIMELINE_LABEL + plot * 0.75)) < 1
    assert mark["colour"] == admin_display.STATUS_COLOURS["SKIPPED"]
    assert len([t for t in picture["ticks"] if t["label"]]) == 8  # every third hour of 24


@pytest.mark.django_db
def test_next_fire_times():
    definition = JobDefinition.objects.get(job_id="scrape_jobs_task")
    now = timezone.now()
    fires = job_next_fire_times(definition, now=now)
    assert len(fires) == 5 and all(b - a == timedelta(minutes=30) for a, b in zip(fires, fires[1:], strict=False))
    assert fires[0] > now and fires[0].minute in (0, 30)
    definition.enabled = False
    assert job_next_fire_times(definition) == []


@pytest.mark.parametrize(("cron", "words"), [
    ("*/30 * * * *", "every 30 min"), ("0 9 * * *", "daily at 09:00"), ("15 * * * *", "hourly at :15"),
    ("0 3 * * *", "daily at 03:00"), ("0 9 * * 1", "weekly at 09:00 on Mon"), ("0 9 1 * *", "cron"),
    ("", "on demand"), ("* * * * *", "every minute")])
def test_schedule_words(cron, words):
    assert schedule_words(SimpleNamespace(trigger_type="cron", cron=cron, interval_seconds=None)) == words


def test_interval_schedule_words():
    def words(seconds):
        return schedule_words(SimpleNamespace(trigger_type="interval", cron="", interval_seconds=seconds))

    assert (words(5), words(300), words(7200), words(90)) == ("every 5 s", "every 5 min", "every 2 h", "every 90 s")
