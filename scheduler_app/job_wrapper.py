"""`with_execution_lock`: the decorator every job wears.

A decorated function is registered as a job. Calling it directly runs it as a "direct" trigger behind the same
lock, run record and logs as the scheduler, the API, the admin and `runjob` use (they go through
`services.job_run`). A direct call returns the function's value; it raises `LockNotAcquired` when blocked and
re-raises the job's own exception when it fails.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async

from scheduler_app import registry
from scheduler_app.context import JobCancelled
from scheduler_app.locks import LockNotAcquired, LockServiceUnavailable
from scheduler_app.registry import JobSpec


def with_execution_lock(timeout_minutes: float, wait_seconds: float = 0, scope: str = "job", *,
                        job_id: str | None = None, name: str | None = None, cron: str = "",
                        interval_seconds: int | None = None,
                        params_validator: Callable[[dict], dict] | None = None):
    def decorate(func: Callable[..., Any]):
        spec = JobSpec(job_id=job_id or func.__name__, func=func, name=name or func.__name__,
                       timeout_minutes=timeout_minutes, wait_seconds=wait_seconds, scope=scope, cron=cron,
                       interval_seconds=interval_seconds, params_validator=params_validator)
        registry.register(spec)

        def run_direct(kwargs: dict[str, Any]) -> Any:
            from scheduler_app import execution
            from scheduler_app.models import JobRun

            team = kwargs.pop("team", None)
            outcome = execution.execute(spec, trigger=JobRun.Trigger.DIRECT, team=team, params=kwargs)
            run = outcome.run
            if run.status == JobRun.Status.SKIPPED:
                if run.skip_reason == JobRun.SkipReason.LOCK_UNAVAILABLE:
                    raise LockServiceUnavailable(run.error)
                blocked = run.blocked_by or {}
                raise LockNotAcquired(run.lock_key, registry_holder(blocked.get("holder")),
                                      blocked.get("ttl_seconds"))
            if outcome.exception is not None:
                raise outcome.exception
            if run.status not in (JobRun.Status.SUCCEEDED, JobRun.Status.PARTIAL):
                raise JobCancelled(run.status.lower())
            return outcome.value

        if spec.is_async:
            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                bound = spec.signature.bind_partial(*args, **kwargs).arguments
                return await sync_to_async(run_direct, thread_sensitive=False)(dict(bound))

            async_wrapper.job_spec = spec  # type: ignore[attr-defined]
            return async_wrapper

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return run_direct(dict(spec.signature.bind_partial(*args, **kwargs).arguments))

        wrapper.job_spec = spec  # type: ignore[attr-defined]
        return wrapper

    return decorate


def registry_holder(data: dict | None):
    from scheduler_app.locks import Holder

    return Holder.parse_dict(data)


__all__ = ["JobSpec", "with_execution_lock"]
