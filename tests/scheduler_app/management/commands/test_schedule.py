"""manage.py schedule preview: the next fire times with offsets and DST notes; usage errors exit 2."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from scheduler_app.models import JobDefinition
from tests.conftest import manage


@pytest.fixture
def berlin_job(db, settings):
    settings.TIME_ZONE = "UTC"
    JobDefinition.objects.filter(job_id="check_follow_ups_task").update(cron="30 2 * * *", time_zone="Europe/Berlin")


def schedule(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("schedule", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, out.getvalue()


def test_preview_prints_the_fires_with_offsets_and_notes(berlin_job):
    code, out = schedule("preview", "check_follow_ups_task", "--from", "2026-03-28T12:00", "--count", "2")
    assert code == 0
    assert out.splitlines() == [
        "check_follow_ups_task  daily at 02:30 Europe/Berlin  (30 2 * * *, time zone Europe/Berlin)  from "
        "2026-03-28T12:00:00+01:00",
        "2026-03-29T03:00:00+02:00  CEST   UTC+02:00  2026-03-29T01:00:00+00:00  02:30 does not exist (DST starts); "
        "runs at 03:00",
        "2026-03-30T02:30:00+02:00  CEST   UTC+02:00  2026-03-30T00:30:00+00:00"]


def test_preview_defaults_to_ten_from_now(berlin_job):
    code, out = schedule("preview", "check_follow_ups_task")
    assert code == 0 and len(out.splitlines()) == 11 and out.count("T02:30:00+0") + out.count("T03:00:00+02") == 10


def test_an_on_demand_job_says_so(berlin_job):
    JobDefinition.objects.filter(job_id="quick_job").update(cron="", trigger_type="cron")
    code, out = schedule("preview", "quick_job")
    assert code == 0 and "runs on demand only" in out


@pytest.mark.parametrize("args, message", [
    (["no_such_job"], "Unknown job: no_such_job"),
    (["bad id"], "Job ids are"),
    (["check_follow_ups_task", "--from", "soon"], "--from: Not an ISO 8601 date-time: 'soon'"),
    (["check_follow_ups_task", "--count", "0"], "--count must be from 1 to 100"),
    (["check_follow_ups_task", "--count", "101"], "--count must be from 1 to 100"),
])
def test_usage_errors_exit_2(berlin_job, args, message):
    code, text = schedule("preview", *args)
    assert code == 2 and message in text


def test_a_subcommand_is_required(berlin_job):
    with pytest.raises(CommandError, match="subcommand"):
        call_command("schedule")


@pytest.mark.django_db(transaction=True)
def test_a_real_process_exits_2_on_a_usage_error_and_0_on_a_preview(subprocess_env):
    proc = manage("schedule", "preview", "no_such_job", env=subprocess_env)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "Unknown job: no_such_job" in err and "Traceback" not in err
    proc = manage("schedule", "preview", "cleanup_old_logs_task", "--from", "2027-01-01T00:00:00+00:00", "--count",
                  "1", env=subprocess_env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.splitlines()[1].startswith("2027-01-01T03:00:00+00:00  UTC")
