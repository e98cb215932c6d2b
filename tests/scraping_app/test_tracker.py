"""The tracker's stage graph: every move from every stage, allowed or refused, and what a refusal says."""

from __future__ import annotations

import itertools

import pytest

from scraping_app import tracker
from scraping_app.models import JobApplication

S = JobApplication.Status

ALLOWED = {
    (S.SHORTLISTED, S.APPLIED), (S.SHORTLISTED, S.REJECTED), (S.SHORTLISTED, S.WITHDRAWN),
    (S.APPLIED, S.INTERVIEWING), (S.APPLIED, S.OFFER), (S.APPLIED, S.REJECTED), (S.APPLIED, S.WITHDRAWN),
    (S.INTERVIEWING, S.OFFER), (S.INTERVIEWING, S.REJECTED), (S.INTERVIEWING, S.WITHDRAWN),
    (S.OFFER, S.REJECTED), (S.OFFER, S.WITHDRAWN),
}
EVERY_MOVE = [(a, b) for a, b in itertools.product(S.values, S.values) if a != b]


def test_the_stages_are_the_model_choices_in_pipeline_order():
    assert tracker.STAGES == ("shortlisted", "applied", "interviewing", "offer", "rejected", "withdrawn")
    assert tracker.FINAL_STAGES == {"rejected", "withdrawn"}


@pytest.mark.parametrize(("from_status", "to_status"), EVERY_MOVE)
def test_every_move_is_allowed_or_refused_as_the_table_says(from_status, to_status):
    refusal = tracker.move_refusal(from_status=from_status, to_status=to_status)
    if (from_status, to_status) in ALLOWED:
        assert refusal is None
        assert to_status in tracker.allowed_moves(from_status=from_status)
    else:
        assert refusal is not None
        assert to_status not in tracker.allowed_moves(from_status=from_status)


@pytest.mark.parametrize("stage", S.values)
def test_the_same_stage_is_no_move_and_not_refused(stage):
    assert tracker.move_refusal(from_status=stage, to_status=stage) is None


def test_a_backward_move_is_refused_naming_the_allowed_moves():
    assert tracker.move_refusal(from_status="interviewing", to_status="applied") == (
        "Cannot move back from interviewing to applied. From interviewing it can move to offer, rejected or "
        "withdrawn.")
    assert tracker.move_refusal(from_status="applied", to_status="shortlisted").startswith(
        "Cannot move back from applied to shortlisted.")


def test_a_skipped_stage_is_refused_naming_the_allowed_moves():
    assert tracker.move_refusal(from_status="shortlisted", to_status="interviewing") == (
        "Cannot move from shortlisted to interviewing. From shortlisted it can move to applied, rejected or "
        "withdrawn.")


@pytest.mark.parametrize("final", ["rejected", "withdrawn"])
def test_final_stages_move_nowhere(final):
    assert tracker.allowed_moves(from_status=final) == ()
    for stage in S.values:
        if stage != final:
            assert tracker.move_refusal(from_status=final, to_status=stage) == (
                f"The application is {final}, a final stage: it moves no further.")


def test_an_unknown_stage_is_refused():
    assert tracker.move_refusal(from_status="applied", to_status="hired") == (
        "Unknown stage 'hired'. Use shortlisted, applied, interviewing, offer, rejected or withdrawn.")


def test_each_stage_past_the_first_has_its_timestamp_field():
    assert tracker.STAGE_TIMESTAMP_FIELDS == {"applied": "applied_at", "interviewing": "interviewing_at",
                                              "offer": "offer_at", "rejected": "rejected_at",
                                              "withdrawn": "withdrawn_at"}
    fields = {field.name for field in JobApplication._meta.fields}
    assert set(tracker.STAGE_TIMESTAMP_FIELDS.values()) <= fields


def test_the_job_of_an_external_application_comes_from_its_external_fields():
    application = JobApplication(external_title="Staff engineer", external_company="Initech",
                                 external_url="https://jobs.example/1")
    assert tracker.application_job(application=application) == tracker.TrackedJob(
        "Staff engineer", "Initech", "https://jobs.example/1")
