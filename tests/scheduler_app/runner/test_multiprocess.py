"""8 processes x 50 triggers of one job, real Redis and a real database: no two RUNNING intervals overlap."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from scheduler_app.models import JobRun
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.real_redis]

WORKER = textwrap.dedent(
    """
    import os, random, sys, time
    import django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobsite.settings")
    django.setup()
    from scheduler_app.services import job_run
    ready_dir, workers = sys.argv[1], int(sys.argv[3])
    open(os.path.join(ready_dir, str(os.getpid())), "w").close()
    give_up = time.monotonic() + 180
    while len(os.listdir(ready_dir)) < workers:  # all workers fire together, once every one has imported Django
        if time.monotonic() > give_up:
            sys.exit("the other workers never got ready")
        time.sleep(0.01)
    rng = random.Random(os.getpid())
    for _ in range(int(sys.argv[2])):
        job_run(job_id="hold_job", trigger="cli", params={"seconds": rng.choice([0, 0, 0.001, 0.005, 0.02])})
        time.sleep(rng.random() * 0.005)
    """
)


def test_eight_processes_never_overlap(real_redis, subprocess_env, tmp_path):
    processes, triggers = 8, 50
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), str(triggers), str(processes)], cwd=ROOT,
                         env=subprocess_env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err[-3000:]

    rows = list(JobRun.objects.filter(job_id="hold_job").order_by("started_at"))
    assert len(rows) == processes * triggers  # every trigger left a row
    ran = [r for r in rows if r.started_at is not None]
    skipped = [r for r in rows if r.status == JobRun.Status.SKIPPED]
    assert {r.status for r in ran} == {JobRun.Status.SUCCEEDED}
    assert len(ran) + len(skipped) == len(rows)
    assert all(r.skip_reason == "lock_held" and r.blocked_by for r in skipped)
    assert len(skipped) > 0 and len(ran) > 0
    for previous, current in zip(ran, ran[1:], strict=False):
        assert current.started_at >= previous.finished_at, (previous.pk, current.pk)
    fences = [r.fencing_token for r in ran]
    assert fences == sorted(fences) and len(set(fences)) == len(fences)  # each holder's token beats the last
    assert not real_redis.exists("job_lock:hold_job")
