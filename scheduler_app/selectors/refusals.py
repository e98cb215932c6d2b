"""Why a trigger did not start, as every entry point reports it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from scheduler_app.models import JobRun


def lease_ago() -> datetime:
    """A RUNNING run whose heartbeat is older than this is dead (heartbeats come every third of a lease)."""
    return timezone.now() - timedelta(seconds=settings.LOCK_LEASE_SECONDS)


# What a non-staff user sees of the holder that refused their trigger.
MEMBER_HOLDER_FIELDS = ("run_id", "acquired_at")


def holder_visible(holder: dict | None, *, staff: bool) -> dict | None:
    """A lock holder as `staff` (everything) or others (its run id and start) may see it."""
    if holder is None or staff:
        return holder
    return {name: holder.get(name) for name in MEMBER_HOLDER_FIELDS}


@dataclass(frozen=True)
class Refusal:
    """Why a trigger did not start, as every entry point reports it: the API (409/503), the admin message, runjob's
    exit code (3/4) and a direct call's exception."""

    LOCK_HELD = "lock_held"  # another run holds the key, or the database still has a live run of it
    LOCK_UNAVAILABLE = "lock_unavailable"  # Redis unreachable and LOCK_FALLBACK=fail
    NOT_RECORDED = "not_recorded"  # the database could not take the run row
    QUEUE_FULL = "queue_full"  # queue_one: another run of the key already waits for it

    kind: str
    job_id: str
    run_id: int | None
    holder: dict | None = None
    ttl_seconds: float | None = None
    heartbeat_age_seconds: float | None = None
    refused_by: str | None = None  # "lock" (the key) or "database" (the guard)
    error: str = ""
    queued_run_id: int | None = None  # queue_full: the run already queued

    @property
    def detail(self) -> str:
        return {self.LOCK_HELD: "Job is already running", self.LOCK_UNAVAILABLE: "Lock service unavailable",
                self.NOT_RECORDED: "Run could not be recorded",
                self.QUEUE_FULL: "Job is already running and a run is already queued"}[self.kind]

    @property
    def http_status(self) -> int:
        """409 while the lock is held; 503 when the lock service is unavailable or the run row cannot be written."""
        return 409 if self.kind in (self.LOCK_HELD, self.QUEUE_FULL) else 503

    @property
    def holder_text(self) -> str:
        """'held by vm:2112, run #26; lock TTL 26 s; heartbeat 2.0 s ago'."""
        holder = self.holder or {}
        parts = [f"held by {holder.get('host')}:{holder.get('pid')}" if holder else "held by another holder"]
        if holder.get("run_id"):
            parts[0] += f", run #{holder['run_id']}"
        if isinstance(self.ttl_seconds, int | float):
            parts.append(f"lock TTL {self.ttl_seconds:.0f} s")
        if isinstance(self.heartbeat_age_seconds, int | float):
            parts.append(f"heartbeat {self.heartbeat_age_seconds:.1f} s ago")
        return "; ".join(parts)

    @property
    def message(self) -> str:
        if self.kind == self.LOCK_HELD:
            return f"{self.detail} ({self.holder_text})"
        if self.kind == self.QUEUE_FULL:
            return f"{self.error} ({self.holder_text})"
        return f"{self.detail}: {self.error}"

    def as_dict(self, *, staff: bool = True) -> dict:
        """The API's body. Staff see the whole holder; others its run id and start (`acquired_at`) only: the token,
        host and pid say where and how to reach the holder, which is the operators' business."""
        body = {"detail": self.detail, "job_id": self.job_id, "run_id": self.run_id}
        if self.kind in (self.LOCK_HELD, self.QUEUE_FULL):
            body.update(holder=holder_visible(self.holder, staff=staff), ttl_seconds=self.ttl_seconds,
                        heartbeat_age_seconds=self.heartbeat_age_seconds, refused_by=self.refused_by)
        if self.kind == self.QUEUE_FULL:
            body.update(error=self.error, queued_run_id=self.queued_run_id)
        elif self.kind != self.LOCK_HELD:
            body["error"] = self.error
        return body


def run_refusal(*, run: JobRun) -> Refusal | None:
    """Why `run` did not start, or None for a run that started (or a slot another scheduler ran)."""
    if run.status != JobRun.Status.SKIPPED or run.skip_reason not in (JobRun.SkipReason.LOCK_HELD,
                                                                      JobRun.SkipReason.LOCK_UNAVAILABLE,
                                                                      JobRun.SkipReason.QUEUE_FULL):
        return None
    if run.skip_reason == JobRun.SkipReason.LOCK_UNAVAILABLE:
        return Refusal(kind=Refusal.LOCK_UNAVAILABLE, job_id=run.job_id, run_id=run.pk, error=run.error)
    blocked = run.blocked_by or {}
    kind = Refusal.QUEUE_FULL if run.skip_reason == JobRun.SkipReason.QUEUE_FULL else Refusal.LOCK_HELD
    return Refusal(kind=kind, job_id=run.job_id, run_id=run.pk, holder=blocked.get("holder"),
                   ttl_seconds=blocked.get("ttl_seconds"), heartbeat_age_seconds=blocked.get("heartbeat_age_seconds"),
                   refused_by=blocked.get("refused_by"), error=run.error, queued_run_id=blocked.get("queued_run_id"))


def run_overlap_note(*, run: JobRun) -> str:
    """What the overlap policy did to `run`, in words: "queued behind run #M", "replaced by run #N",
    "a run is already queued: run #Q (behind run #M)"; "" when it did nothing."""
    blocked = run.blocked_by or {}
    if run.skip_reason == JobRun.SkipReason.REPLACED:
        return run.error
    if run.skip_reason == JobRun.SkipReason.QUEUE_FULL:
        return run.error
    if blocked.get("overlap") == "queue_one":
        behind = f"queued behind run #{blocked.get('queued_behind')}"
        return behind if run.status == JobRun.Status.QUEUED else f"started after waiting in the queue ({behind})"
    if run.status == JobRun.Status.RUNNING and run.cancel_requested_by.endswith("(replace)"):
        return f"being replaced by {run.cancel_requested_by.removesuffix(' (replace)')}"
    return ""


def run_not_recorded_refusal(*, job_id: str, error: Exception) -> Refusal:
    """The refusal for a trigger whose run row could not be written (services.RunNotRecorded)."""
    return Refusal(kind=Refusal.NOT_RECORDED, job_id=job_id, run_id=None, error=str(error))
