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

from scheduler_app import registry, selectors, services
from scheduler_app.context import JobCancelled
from scheduler_app.locks import Holder, LockNotAcquired, LockServiceUnavailable
from scheduler_app.models import JobRun
from scheduler_app.registry import InvalidJobParams, JobSpec

__all__ = ["InvalidJobParams", "JobSpec", "with_execution_lock"]  # a params_validator raises InvalidJobParams


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
            team = kwargs.pop("team", None)
            run = services.job_run(job_id=spec.job_id, trigger=JobRun.Trigger.DIRECT, team=team, params=kwargs)
            _raise_refusal(run)
            if run.job_exception is not None:
                raise run.job_exception
            if run.status not in (JobRun.Status.SUCCEEDED, JobRun.Status.PARTIAL):
                raise JobCancelled(run.status.lower())
            return run.job_value

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


def _raise_refusal(run: JobRun) -> None:
    """A direct call that did not start raises: LockNotAcquired (holder, TTL) or LockServiceUnavailable."""
    refusal = selectors.run_refusal(run=run)
    if refusal is None:
        return
    if refusal.kind == selectors.Refusal.LOCK_UNAVAILABLE:
        raise LockServiceUnavailable(refusal.error)
    raise LockNotAcquired(run.lock_key, Holder.parse_dict(refusal.holder), refusal.ttl_seconds,
                          message=f"{refusal.message} (lock {run.lock_key})")

