"""The system check that warns when the locks run without Redis (scheduler_app.W001)."""

from __future__ import annotations

from django.core import checks

from scheduler_app.checks import lock_backend_check


def test_no_warning_while_redis_answers(fake_redis):
    assert lock_backend_check() == []


def test_no_warning_with_the_real_redis(real_redis):
    assert lock_backend_check() == []


def test_dead_redis_with_database_fallback_warns(dead_redis, settings):
    settings.LOCK_FALLBACK = "database"
    [warning] = lock_backend_check()
    assert isinstance(warning, checks.Warning)
    assert warning.id == "scheduler_app.W001"
    assert warning.level == checks.WARNING
    assert warning.msg == ("Redis is not reachable at REDIS_URL; execution locks use the database lease "
                           "(LOCK_FALLBACK=database).")
    assert "Start Redis" in warning.hint


def test_dead_redis_with_fail_policy_says_runs_are_refused(dead_redis, settings):
    settings.LOCK_FALLBACK = "fail"
    [warning] = lock_backend_check()
    assert warning.id == "scheduler_app.W001"
    assert warning.msg == ("Redis is not reachable at REDIS_URL; every run is refused until Redis answers "
                           "(LOCK_FALLBACK=fail).")


def test_registered_with_the_scheduler_tag(dead_redis):
    assert checks.registry.registry.tag_exists("scheduler")
    ids = [message.id for message in checks.run_checks(tags=["scheduler"])]
    assert ids == ["scheduler_app.W001"]
