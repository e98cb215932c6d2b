"""runjob: exit codes 0-4, output, --team/--wait/--param, and a real subprocess."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from scheduler_app import locks
from scheduler_app.models import JobRun
from scraping_app.models import Team
from tests.conftest import manage

pytestmark = pytest.mark.django_db(transaction=True)


def runjob(*args: str) -> tuple[int, str]:
    from io import StringIO

    out, err = StringIO(), StringIO()
    try:
        call_command("runjob", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    except CommandError as exc:
        return exc.returncode, str(exc)
    return code, out.getvalue() + err.getvalue()


def test_runjob_success_prints_run(lock_redis):
    code, out = runjob("quick_job")
    run = JobRun.objects.get()
    assert code == 0
    assert f"run {run.pk}" in out and "status SUCCEEDED" in out and "duration" in out
    assert run.trigger == "cli"


def test_runjob_partial_is_success_with_warnings(lock_redis):
    code, out = runjob("partial_job")
    assert code == 0 and "status PARTIAL" in out and "board x failed" in out


def test_runjob_failure_exits_1(lock_redis):
    code, out = runjob("failing_job")
    assert code == 1 and "RuntimeError: Test error" in out


def test_runjob_usage_errors_exit_2(lock_redis):
    assert runjob("no_such_job")[0] == 2
    assert runjob("hold_job", "--param", "seconds")[0] == 2
    assert runjob("hold_job", "--param", "bogus=1")[0] == 2
    assert runjob("hold_job", "--team", "999")[0] == 2
    assert runjob("hold_job", "--wait", "-1")[0] == 2
    assert not JobRun.objects.exists()


def test_runjob_blocked_exits_3_and_names_the_holder(lock_redis):
    with locks.execution_lock("quick_job", ttl_seconds=60, run_id=4242):
        code, out = runjob("quick_job")
    assert code == 3
    assert "Job is already running" in out and "run #4242" in out and "lock TTL" in out
    assert JobRun.objects.get().status == JobRun.Status.SKIPPED


def test_runjob_lock_unavailable_exits_4(dead_redis, settings):
    settings.LOCK_FALLBACK = "fail"
    code, out = runjob("quick_job")
    assert code == 4 and "Lock service unavailable" in out
    run = JobRun.objects.get()
    assert run.status == JobRun.Status.SKIPPED and run.skip_reason == "lock_unavailable"


def test_runjob_team_and_wait(lock_redis):
    team = Team.objects.create(name="t")
    code, _ = runjob("team_job", "--team", str(team.pk), "--wait", "1", "--param", "seconds=0")
    assert code == 0
    assert JobRun.objects.get().lock_key == f"team_job:team:{team.pk}"


def test_runjob_subprocess_exit_codes(real_redis, subprocess_env):
    """The real process: argparse errors and unknown jobs exit 2 without a traceback."""
    proc = manage("runjob", "no_such_job", env=subprocess_env)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "Unknown job: no_such_job" in err and "Traceback" not in err
    proc = manage("runjob", "quick_job", env=subprocess_env)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "SUCCEEDED" in out


@pytest.mark.parametrize("param,message", [
    ("older_than_days=-5", "older_than_days: expected a whole number"),
    ("older_than_days=" + "1" * 31, "older_than_days: must be from 0 to 36500"),
    ("keyword=py\udcff", "keyword: text may not contain unpaired surrogate characters"),  # argv's undecodable byte
])
def test_runjob_refuses_params_its_job_cannot_take_with_exit_2_and_no_run(param, message):
    job = "cleanup_old_logs_task" if param.startswith("older") else "scrape_jobs_task"
    code, output = runjob(job, "--param", param)
    assert code == 2 and message in output
    assert not JobRun.objects.exists()
