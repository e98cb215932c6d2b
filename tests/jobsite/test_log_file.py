"""logs/app.log as operators read it, written by real processes: LOG_FORMAT=json lines that `jq` filters to one
run, several processes rotating one file without losing or repeating a line, and the process role.

Small limits (LOG_FILE_MAX_BYTES, LOG_FILE_BACKUP_COUNT) come from the environment, as in production."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jobsite.logging_config import process_role
from tests.conftest import ROOT, manage, require
from tests.waiting import wait_for


def _json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def _runjob(job_id: str, env: dict) -> tuple[int, int]:
    """(run id, pid) of one `manage.py runjob` that succeeded."""
    process = manage("runjob", job_id, env=env)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, (out, err)
    assert "Traceback" not in err, err
    return int(re.search(r"^run (\d+) ", out, re.M).group(1)), process.pid


@pytest.mark.slow
def test_jq_filters_the_json_file_to_one_run_with_its_lock_lines(subprocess_env, tmp_path):
    jq = shutil.which("jq")
    require(jq is not None, "jq is not installed")
    env = {**subprocess_env, "LOG_FORMAT": "json", "LOG_DIR": str(tmp_path), "LOG_DB_ENABLED": "false"}
    env.pop("PROCESS_ROLE", None)
    first, first_pid = _runjob("cleanup_old_logs_task", env)
    second, _ = _runjob("cleanup_old_logs_task", env)
    quick, _ = _runjob("quick_job", env)
    log = tmp_path / "app.log"
    everything = _json_lines(log)
    assert {line["run_id"] for line in everything} >= {first, second, quick}  # three runs share the file

    selected = subprocess.run([jq, "-c", f"select(.run_id == {second})", str(log)], capture_output=True, text=True,
                              timeout=30, check=True).stdout.splitlines()
    lines = [json.loads(line) for line in selected]
    assert lines and {line["run_id"] for line in lines} == {second}  # that run alone
    assert lines == [line for line in everything if line["run_id"] == second]  # and all of it
    messages = [line["message"] for line in lines]
    assert messages[:2] == ["Acquiring lock for job: cleanup_old_logs_task",
                            "Lock acquired for job: cleanup_old_logs_task"]
    assert messages[-1] == "Releasing lock for job: cleanup_old_logs_task"
    assert any(m.startswith("Deleted ") and "log entries" in m for m in messages)  # the job's own line (logs_app)
    assert {(line["job_id"], line["trigger"], line["role"]) for line in lines} == {
        ("cleanup_old_logs_task", "cli", "cli")}
    # No line of any of the runs is left without its run id: each lock line names the run it belongs to.
    for line in everything:
        if "lock for job" in line["message"].lower():
            assert line["run_id"] is not None, line
    assert {line["pid"] for line in everything if line["run_id"] == first} == {first_pid}


WRITER = """
import logging, os, sys, time
import django
django.setup()
ready, go, worker, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
open(ready, "w").close()
deadline = time.monotonic() + 60
while not os.path.exists(go):  # every writer starts at once, so that their rotations overlap
    if time.monotonic() > deadline:
        sys.exit("no go")
    time.sleep(0.01)
log = logging.getLogger("scheduler_app")
for i in range(count):
    log.info("writer %s line %s %s", worker, i, "x" * 64)
"""


@pytest.mark.slow
def test_several_processes_rotate_one_file_without_losing_or_repeating_a_line(tmp_path):
    writers, count, backups = 4, 400, 60
    logs = tmp_path / "logs"
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "jobsite.settings", "DEBUG": "1",
           "LOG_DIR": str(logs), "LOG_DB_ENABLED": "false", "LOG_FORMAT": "json", "PROCESS_ROLE": "cli",
           "LOG_FILE_MAX_BYTES": "16384", "LOG_FILE_BACKUP_COUNT": str(backups), "PYTHONUNBUFFERED": "1"}
    go = tmp_path / "go"
    processes = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / f"ready-{n}"), str(go), str(n),
                                   str(count)], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for n in range(writers)]
    try:
        wait_for(lambda: all((tmp_path / f"ready-{n}").exists() for n in range(writers)), timeout=60,
                 message="every writer to be set up")
        go.touch()
        results = [process.communicate(timeout=120) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, (_out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err[-2000:]
        assert "Traceback" not in err and "Logging error" not in err, err[-2000:]

    files = sorted(logs.glob("app.log*"))
    rotated = [path for path in files if path.name != "app.log"]
    assert 2 <= len(rotated) < backups  # it rotated, and no backup was dropped (else lines would be missing)
    seen: dict[tuple[str, str], int] = {}
    pids = set()
    for path in files:
        for line in _json_lines(path):
            worker, index = re.fullmatch(r"writer (\d+) line (\d+) x+", line["message"]).groups()
            seen[(worker, index)] = seen.get((worker, index), 0) + 1
            pids.add(line["pid"])
            assert line["role"] == "cli"
    assert len(seen) == writers * count  # none lost
    assert set(seen.values()) == {1}  # none repeated
    assert pids == {process.pid for process in processes}


def _setting(env: dict, expression: str) -> subprocess.CompletedProcess:
    code = f"import django; django.setup(); from django.conf import settings as s; print({expression})"
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_process_role_and_log_format_come_from_the_environment(tmp_path):
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "jobsite.settings", "DEBUG": "1",
           "LOG_DIR": str(tmp_path), "LOG_DB_ENABLED": "false"}
    shown = _setting({**env, "PROCESS_ROLE": "scheduler"}, "s.PROCESS_ROLE, s.LOG_FORMAT")
    assert shown.stdout.split() == ["scheduler", "text"], shown.stderr
    refused = _setting({**env, "LOG_FORMAT": "xml"}, "s.LOG_FORMAT")
    assert refused.returncode != 0 and "LOG_FORMAT must be one of text, json" in refused.stderr
    refused = _setting({**env, "PROCESS_ROLE": "worker"}, "s.PROCESS_ROLE")
    assert refused.returncode != 0 and "PROCESS_ROLE must be one of" in refused.stderr


@pytest.mark.parametrize("argv,modules,role", [
    (["manage.py", "runscheduler"], {}, "scheduler"),
    (["/srv/app/manage.py", "runserver", "0:8000"], {}, "web"),
    (["manage.py", "runjob", "scrape_jobs_task"], {}, "cli"),
    (["manage.py", "migrate"], {}, "cli"),
    (["/usr/lib/python3/site-packages/django/__main__.py", "runscheduler"], {}, "scheduler"),
    (["/venv/bin/gunicorn", "jobsite.wsgi"], {}, "web"),
    (["manage.py", "runscheduler"], {"pytest": object()}, "test"),
])
def test_process_role_from_the_command_line(argv, modules, role):
    assert process_role(argv, modules) == role
