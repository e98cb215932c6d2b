"""The tracker's stage graph (pure: no database): which moves an application may make, the timestamp each stage
sets, and the job an application is for (a scraped posting or one found elsewhere).

shortlisted -> applied | rejected | withdrawn
applied -> interviewing | offer | rejected | withdrawn
interviewing -> offer | rejected | withdrawn
offer -> rejected | withdrawn (an offer declined is withdrawn)
rejected, withdrawn: final. Nothing moves back: a pipeline only goes forward, so its timestamps and history stay
true. (One application per team and posting: a job to pursue again is a new posting, or an external application.)
A move to the stage the application is in already is no move at all (no history row, no error).
"""

from __future__ import annotations

from dataclasses import dataclass

from scraping_app.models import JobApplication

Status = JobApplication.Status

STAGES: tuple[str, ...] = tuple(Status.values)  # pipeline order: the board's columns
FINAL_STAGES = frozenset({Status.REJECTED, Status.WITHDRAWN})

ALLOWED_MOVES: dict[str, tuple[str, ...]] = {
    Status.SHORTLISTED: (Status.APPLIED, Status.REJECTED, Status.WITHDRAWN),
    Status.APPLIED: (Status.INTERVIEWING, Status.OFFER, Status.REJECTED, Status.WITHDRAWN),
    Status.INTERVIEWING: (Status.OFFER, Status.REJECTED, Status.WITHDRAWN),
    Status.OFFER: (Status.REJECTED, Status.WITHDRAWN),
    Status.REJECTED: (),
    Status.WITHDRAWN: (),
}

# The field each stage stamps the first time an application reaches it (shortlisted is created_at's).
STAGE_TIMESTAMP_FIELDS: dict[str, str] = {
    Status.APPLIED: "applied_at",
    Status.INTERVIEWING: "interviewing_at",
    Status.OFFER: "offer_at",
    Status.REJECTED: "rejected_at",
    Status.WITHDRAWN: "withdrawn_at",
}


def allowed_moves(*, from_status: str) -> tuple[str, ...]:
    return ALLOWED_MOVES.get(from_status, ())


def move_refusal(*, from_status: str, to_status: str) -> str | None:
    """Why `from_status -> to_status` is not allowed, or None when it is (the same stage is allowed: no move)."""
    if to_status not in STAGES or from_status not in STAGES:
        return f"Unknown stage {to_status if to_status not in STAGES else from_status!r}. Use {_either(STAGES)}."
    if to_status == from_status or to_status in allowed_moves(from_status=from_status):
        return None
    if from_status in FINAL_STAGES:
        return f"The application is {from_status}, a final stage: it moves no further."
    allowed = f"From {from_status} it can move to {_either(allowed_moves(from_status=from_status))}."
    if STAGES.index(to_status) < STAGES.index(from_status):
        return f"Cannot move back from {from_status} to {to_status}. {allowed}"
    return f"Cannot move from {from_status} to {to_status}. {allowed}"


def _either(stages) -> str:
    stages = list(stages)
    return stages[0] if len(stages) == 1 else f"{', '.join(stages[:-1])} or {stages[-1]}"


@dataclass(frozen=True)
class TrackedJob:
    title: str
    company: str
    url: str


def application_job(*, application: JobApplication) -> TrackedJob:
    """The job an application is for: its posting's, or the external fields when it has no posting."""
    posting = application.posting if application.posting_id else None
    if posting is None:
        return TrackedJob(application.external_title, application.external_company, application.external_url)
    return TrackedJob(posting.title, posting.company, posting.url or posting.apply_url)
