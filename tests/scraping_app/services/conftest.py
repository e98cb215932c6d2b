"""What the automation and follow-up tests share: a team of two members, postings, and a run that must succeed."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from scheduler_app.models import JobRun
from scheduler_app.services import job_run
from scraping_app.models import JobPosting, Team
from tests.scraping_app.conftest import make_source


@pytest.fixture
def team(db):
    team = Team.objects.create(name="Searchers")
    User = get_user_model()
    team.members.add(User.objects.create(username="ann", email="ann@example.com"),
                     User.objects.create(username="bob", email=""))
    return team


def posting(n: int, **fields) -> JobPosting:
    source = make_source("sample", name="Sample") if n == 1 else JobPosting.objects.first().source
    now = timezone.now()
    defaults = dict(title=f"Python developer {n}", company="Acme", location="Remote", is_remote=True,
                    first_seen_at=now, last_seen_at=now, fingerprint=str(n))
    defaults.update(fields)
    return JobPosting.objects.create(source=source, source_job_id=str(n), **defaults)


def run(job_id: str, team=None) -> JobRun:
    result = job_run(job_id=job_id, trigger="cli", team=team)
    assert result.status == JobRun.Status.SUCCEEDED, result.error
    return result
