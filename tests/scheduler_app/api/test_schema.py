"""The OpenAPI document is the contract: pagination shapes, every status an operation returns, patterns and
ranges, unique operationIds, and closed request bodies."""

from __future__ import annotations

import re
import sys

import pytest
from django.core.management import call_command

from scheduler_app.api.schema import NOT_BLANK_NO_NUL

pytestmark = pytest.mark.django_db

# /api/v1/jobs pages by cursor (issue 16): tests/scraping_app/api/test_search_api.py checks its document.
PAGINATED = ["/api/v1/saved-searches", "/api/v1/applications", "/api/v1/automation-rules",
             "/api/v1/logs", "/api/v1/scheduler/runs"]


@pytest.fixture
def schema(staff_api) -> dict:
    response = staff_api.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _resolve(schema: dict, ref_or_schema: dict) -> dict:
    ref = ref_or_schema.get("$ref")
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else ref_or_schema


def test_the_document_generates_without_a_warning(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


@pytest.mark.parametrize("path", PAGINATED)
def test_every_paginated_list_is_documented_as_a_page(schema, path):
    response = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    page = _resolve(schema, response)
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    assert page["properties"]["results"]["type"] == "array"
    parameters = {p["name"]: p["schema"] for p in schema["paths"][path]["get"]["parameters"]}
    assert parameters["page"]["minimum"] == 1
    assert parameters["page_size"]["minimum"] == 1 and parameters["page_size"]["maximum"] == 500


def test_operation_ids_are_unique(schema):
    ids = [operation["operationId"] for item in schema["paths"].values() for operation in item.values()]
    assert len(ids) == len(set(ids))


def test_error_statuses_are_documented(schema):
    paths = schema["paths"]
    assert {"400", "401", "403", "404", "429"} <= set(paths["/api/v1/jobs"]["get"]["responses"])
    assert {"400", "409", "503", "413", "415"} <= set(paths["/api/v1/jobs/scrape"]["post"]["responses"])
    assert {"404", "409", "503"} <= set(paths["/api/v1/scheduler/job"]["post"]["responses"])
    assert {"409", "503"} <= set(paths["/api/v1/logs/clear"]["delete"]["responses"])
    assert "409" in paths["/api/v1/applications"]["post"]["responses"]
    assert "404" in paths["/api/v1/scheduler/runs/{id}"]["get"]["responses"]
    assert {"X-Run-Id", "X-Run-Status"} <= set(paths["/api/v1/jobs/scrape"]["get"]["responses"]["200"]["headers"])


def test_patterns_and_ranges_are_documented(schema):
    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/scheduler/jobs/{job_id}"]["get"]
                  ["parameters"]}
    assert parameters["job_id"]["pattern"] == "^[a-z0-9_]{1,64}$"
    definition = schema["components"]["schemas"]["PatchedJobDefinitionInputRequest"]["properties"]
    assert definition["interval_seconds"]["maximum"] == 366 * 24 * 3600
    team = schema["components"]["schemas"]["SavedSearchRequest"]["properties"]["team"]
    assert team["minimum"] == 1 and "teams" in team["description"]
    keyword = schema["components"]["schemas"]["SavedSearchRequest"]["properties"]["keyword"]
    assert keyword["pattern"] == NOT_BLANK_NO_NUL  # no NUL, not blank
    rule = re.compile(NOT_BLANK_NO_NUL)
    assert rule.match("python") and not rule.match("\x1c\x1c") and not rule.match(" \u3000") \
        and not rule.match("a\x00")
    every_space = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
    assert not rule.match(every_space), "each character DRF strips must count as blank"


def test_request_bodies_take_no_other_fields(schema):
    requests = {name: body for name, body in schema["components"]["schemas"].items() if name.endswith("Request")}
    assert requests and all(body.get("additionalProperties") is False for body in requests.values())
