"""Chaos: a trigger that is refused must change nothing a live holder depends on, and a
waiting trigger waits out its budget whatever refused it.

The holder is a live `runjob chaos_writer` (never paused) writing through ctx.atomic() every ~30 ms, lease 3 s
(renewed every second). The event (a Redis restart, an operator's "clear lock") is timed right after a renewal,
and the second trigger is a warm `manage.py runjob` fired at once, so it reaches the lock while the key is gone.
"""

from __future__ import annotations

import time

import pytest

from scheduler_app import services
from tests.chaos.harness import (
    JOB,
    WarmTrigger,
    describe_runs,
    output,
    run_id_of,
    run_status,
    runs,
    start_holder,
    wait_exit,
    wait_for,
    wait_for_renewal,
)

pytestmark = [pytest.mark.slow, pytest.mark.real_redis]

LEASE = 3.0


def assert_refused_and_holder_succeeded(chaos, trigger, holder, a_run: int, why: str) -> None:
    """The second trigger refused (exit 3, SKIPPED) and the live holder's run SUCCEEDED: both, in one verdict."""
    code = wait_exit(trigger.proc, 60, "the second trigger")
    b_run = run_id_of(trigger.proc)
    b_err = output(trigger.proc)[1]
    a_code = wait_exit(holder, 60, "the holder")
    a_status = run_status(a_run)
    b_status = run_status(b_run) if b_run else None
    refused = code == 3 and b_status == "SKIPPED"
    survived = a_status == "SUCCEEDED" and a_code == 0
    assert refused and survived, (
        f"{why}: expected the second trigger refused (exit 3, SKIPPED) and the live holder's run SUCCEEDED.\n"
        f"second trigger: exit {code}, run {b_run} {b_status}"
        f"{'' if refused else ' <- wrong'}\n"
        f"holder: run {a_run} ended {a_status} (runjob exit {a_code}){'' if survived else ' <- wrong'}\n"
        f"holder stderr (tail):\n{output(holder)[1][-1200:]}\nsecond trigger stderr (tail):\n{b_err[-800:]}\n"
        f"runs:\n{describe_runs()} {chaos.where()}"
    )


def test_refused_trigger_does_not_kill_the_healthy_holder(chaos):
    """Finding 3: live holder, Redis restarted empty, a fail-fast trigger refused (exit 3, SKIPPED); the holder
    must end SUCCEEDED, not LOST_LOCK."""
    chaos.set_lease(LEASE)
    # Two runs before it: the holder is not the first holder this Redis has seen.
    for _ in range(2):
        assert services.job_run(job_id=JOB, trigger="api", params={"iterations": 1}).status == "SUCCEEDED"
    trigger = WarmTrigger(chaos.procs)
    holder, a_run = start_holder(chaos)
    wait_for(trigger.ready, 60, "the warm trigger")
    client = chaos.redis.client()
    wait_for_renewal(client, 10)
    chaos.restart_redis()
    trigger.fire("runjob", JOB)
    assert_refused_and_holder_succeeded(chaos, trigger, holder, a_run, "after a Redis restart")


def test_waiting_trigger_waits_its_whole_budget(chaos):
    """Finding 4: Redis restarted empty while the holder has ~3 s left; `runjob --wait 15` must run after the
    holder ends (exit 0, SUCCEEDED), not be SKIPPED at once."""
    chaos.set_lease(LEASE)
    waiter = WarmTrigger(chaos.procs)
    holder, a_run = start_holder(chaos, iterations=150)  # ~4.5 s of writes
    a_start = chaos.record().starts[a_run][0]
    wait_for(waiter.ready, 60, "the warm waiting trigger")
    wait_for(lambda: time.time() - a_start >= 1.3, 10, "the holder to be ~3 s from its end")
    wait_for_renewal(chaos.redis.client(), 10)
    chaos.restart_redis()
    fired = time.time()
    waiter.fire("runjob", JOB, "--wait", "15", "--param", "iterations=2")
    code = wait_exit(waiter.proc, 60, "the waiting trigger")
    returned = time.time()
    wait_exit(holder, 60, "the holder")
    out, err = output(waiter.proc)
    w_run = run_id_of(waiter.proc)
    a = runs(pk=a_run)[0]
    assert code == 0 and w_run is not None and run_status(w_run) == "SUCCEEDED", (
        f"`runjob --wait 15` fired {fired - a_start:.1f} s into the holder's run ended exit {code}, run {w_run} "
        f"{run_status(w_run) if w_run else '-'} after {returned - fired:.2f} s; the holder's run {a_run} ended "
        f"{a.status} {a.finished_at.timestamp() - fired if a.finished_at else float('nan'):.2f} s after the fire.\n"
        f"stderr: {err[-1500:]}\nruns:\n{describe_runs()} {chaos.where()}"
    )
    w = runs(pk=w_run)[0]
    assert a.finished_at is not None and w.started_at >= a.finished_at, (
        f"the waiter's run {w_run} started {w.started_at} before the holder's run {a_run} ended {a.finished_at}"
    )
    assert a.status == "SUCCEEDED", f"the holder's run {a_run} ended {a.status}: a waiting trigger killed it"


def test_clear_lock_on_a_live_holder_then_run_now(chaos):
    """Finding 7: an operator clears a live holder's lock, a run-now (fail-fast) is refused (exit 3); the original
    run must still end SUCCEEDED, not LOST_LOCK."""
    chaos.set_lease(LEASE)
    trigger = WarmTrigger(chaos.procs)
    holder, a_run = start_holder(chaos)
    wait_for(trigger.ready, 60, "the warm trigger")
    wait_for_renewal(chaos.redis.client(), 10)
    cleared = services.job_locks_clear(job_id=JOB, source="cli")  # the admin's / `locks clear`'s service
    assert [c.key for c in cleared if c.released] == [JOB], f"nothing cleared: {cleared}"
    assert cleared[0].holder_live and cleared[0].holder_run_id == a_run
    trigger.fire("runjob", JOB)
    assert_refused_and_holder_succeeded(chaos, trigger, holder, a_run, "after 'clear lock' and a run-now")
