"""SafeJSONParser: JSON only, bounded in size and depth, and only text the database can store (400/413/415)."""

from __future__ import annotations

import json

import pytest

from scheduler_app.storable import json_problem, text_problem

pytestmark = pytest.mark.django_db

SCHEDULER_JOB = "/api/v1/scheduler/job"
SAVED_SEARCHES = "/api/v1/saved-searches/"


def post_raw(client, url: str, body: bytes | str, content_type: str = "application/json"):
    return client.generic("POST", url, body, content_type=content_type)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_json_nested_a_thousand_deep_is_a_400_not_a_recursion_error(staff_api, team, method):
    from scraping_app.models import SavedSearch

    search = SavedSearch.objects.create(team=team, keyword="python")
    url = SAVED_SEARCHES if method == "POST" else f"{SAVED_SEARCHES}{search.pk}"
    body = '{"keyword": ' + "[" * 1000 + "]" * 1000 + "}"
    response = staff_api.generic(method, url, body, content_type="application/json")
    assert response.status_code == 400
    assert "nested more than 32 levels deep" in response.json()["detail"]


def test_depth_limit_comes_from_settings(staff_api, settings):
    settings.API_MAX_JSON_DEPTH = 2
    response = post_raw(staff_api, SCHEDULER_JOB, json.dumps({"job_id": "quick_job", "params": {"a": {"b": 1}}}))
    assert response.status_code == 400 and "params.a" in response.json()["detail"]


def test_a_body_over_the_size_limit_is_a_413(staff_api, settings):
    settings.API_MAX_BODY_BYTES = 100
    response = post_raw(staff_api, SCHEDULER_JOB, json.dumps({"job_id": "quick_job", "pad": "x" * 200}))
    assert response.status_code == 413
    assert response.json()["detail"] == "Request body is larger than 100 bytes (API_MAX_BODY_BYTES)."


@pytest.mark.parametrize("text,reason", [('"\\ud800"', "unpaired surrogate"), ('"a\\u0000b"', "NUL")])
def test_lone_surrogates_and_nul_are_refused_anywhere_in_a_body(staff_api, text, reason):
    body = '{"job_id": "scrape_jobs_task", "params": {"keyword": ' + text + '}}'
    response = post_raw(staff_api, SCHEDULER_JOB, body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON body at params.keyword: text may not contain")
    assert reason in response.json()["detail"]


def test_a_bad_field_name_is_refused_too(staff_api):
    response = post_raw(staff_api, SCHEDULER_JOB, '{"job_id": "quick_job", "\\ud800": 1}')
    assert response.status_code == 400 and "field names may not contain" in response.json()["detail"]


def test_not_json_is_a_415_and_broken_json_a_400(staff_api):
    assert post_raw(staff_api, SCHEDULER_JOB, "job_id=quick_job", "application/x-www-form-urlencoded"
                    ).status_code == 415
    response = post_raw(staff_api, SCHEDULER_JOB, '{"job_id": ')
    assert response.status_code == 400 and response.json()["detail"].startswith("JSON parse error")
    assert post_raw(staff_api, SCHEDULER_JOB, '{"job_id": "quick_job", "wait_seconds": NaN}').status_code == 400


def test_the_rules_themselves():
    assert text_problem("fine ünïcode 😍") is None
    assert text_problem("a\x00") == "may not contain NUL characters"
    assert text_problem("\udc80") == "may not contain unpaired surrogate characters"
    assert json_problem({"a": [{"b": "ok"}]}, max_depth=3) is None
    assert json_problem({"a": [{"b": "ok"}]}, max_depth=2) == ("a[0]", "nested more than 2 levels deep")
    assert json_problem(["x", {"k": "\x00"}], max_depth=5) == ("[1].k", "text may not contain NUL characters")
