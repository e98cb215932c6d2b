"""One URL rule: every API route answers with and without its trailing slash (same view, no redirect); ids in a
path are at most 18 digits; anything else under /api/ is a JSON 404; /api/v1/ is the index."""

from __future__ import annotations

import pytest
from django.urls import reverse

from jobsite.api_index import RESOURCES

pytestmark = pytest.mark.django_db

ROUTES = ["/api/v1/jobs", "/api/v1/teams", "/api/v1/saved-searches", "/api/v1/applications",
          "/api/v1/automation-rules", "/api/v1/logs", "/api/v1/scheduler/status", "/api/v1/scheduler/runs",
          "/api/v1/scheduler/locks", "/api/v1/scheduler/jobs/scrape_jobs_task"]


@pytest.mark.parametrize("path", ROUTES)
def test_every_route_answers_with_and_without_its_trailing_slash(staff_api, path):
    bare, slashed = staff_api.get(path), staff_api.get(path + "/")
    assert bare.status_code == slashed.status_code == 200


def test_an_id_too_long_for_the_database_is_a_404_not_an_overflow(staff_api):
    for path in ("/api/v1/scheduler/runs/99999999999999999999", "/api/v1/jobs/99999999999999999999",
                 "/api/v1/saved-searches/99999999999999999999"):
        response = staff_api.get(path)
        assert response.status_code == 404 and response["Content-Type"] == "application/json", path


def test_a_path_that_names_no_route_is_a_json_404(client):
    response = client.post("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"detail": "No API route at /api/v1/nothing-here. The index is at /api/v1/."}


def test_the_index_lists_every_resource(member_api):
    response = member_api.get("/api/v1/")
    assert response.status_code == 200
    assert response.json() == {name: f"http://testserver{reverse(url)}" for name, url in RESOURCES.items()}
    assert member_api.get("/api/v1").status_code == 200
