"""A row stored before input was checked renders safely: a lone surrogate becomes U+FFFD, never a 500."""

from __future__ import annotations

import pytest
from django.db import connection

from scheduler_app.api.renderers import SafeJSONRenderer, surrogates_replaced
from scheduler_app.models import JobRun


def test_surrogates_are_replaced_in_keys_and_values():
    assert surrogates_replaced({"k\ud800": ["x\udfffy", 1, None]}) == {"k\ufffd": ["x\ufffdy", 1, None]}


def test_plain_data_renders_as_drf_renders_it():
    assert SafeJSONRenderer().render({"a": "ü"}) == '{"a":"ü"}'.encode()


@pytest.mark.django_db
def test_a_stored_run_with_a_lone_surrogate_no_longer_breaks_the_runs_pages(staff_api):
    if connection.vendor != "sqlite":
        pytest.skip("only SQLite could store one (PostgreSQL refuses it): the case this rendering is for")
    run = JobRun.objects.create(job_id="scrape_jobs_task", lock_key="scrape_jobs_task", trigger="api",
                                status="SUCCEEDED", params={"keyword": "py\ud800"})
    listed = staff_api.get("/api/v1/scheduler/runs")
    assert listed.status_code == 200
    assert listed.json()["results"][0]["params"] == {"keyword": "py\ufffd"}
    assert staff_api.get(f"/api/v1/scheduler/runs/{run.pk}").json()["params"] == {"keyword": "py\ufffd"}
