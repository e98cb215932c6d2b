"""One pagination on every list: page >= 1 and page_size 1..API_MAX_PAGE_SIZE, a 400 that says so otherwise."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

# /api/v1/jobs/ pages by cursor (issue 16): tests/scraping_app/api/test_search_api.py covers its page_size and cursor.
LISTS = ["/api/v1/saved-searches/", "/api/v1/applications/", "/api/v1/automation-rules/",
         "/api/v1/logs/", "/api/v1/scheduler/runs"]


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize("param,value", [("page_size", "0"), ("page_size", "501"), ("page_size", "x"),
                                         ("page_size", "²"), ("page", "0"), ("page", "-1"), ("page", "1.5"),
                                         ("page", "9" * 40)])
def test_bad_page_and_page_size_are_the_same_400_on_every_list(staff_api, url, param, value):
    response = staff_api.get(url, {param: value})
    assert response.status_code == 400, response.content
    assert response.json()[param][0].startswith("Use a whole number from 1 to ")


@pytest.mark.parametrize("url", LISTS)
def test_page_size_is_honoured_on_every_list_and_a_page_past_the_end_is_a_404(staff_api, url):
    response = staff_api.get(url, {"page_size": 1})
    assert response.status_code == 200 and set(response.json()) == {"count", "next", "previous", "results"}
    assert staff_api.get(url, {"page": 99}).status_code == 404


def test_the_largest_page_size_comes_from_settings(staff_api, settings):
    settings.API_MAX_PAGE_SIZE = 5
    assert staff_api.get("/api/v1/jobs/", {"page_size": 6}).json() == {
        "page_size": ["Use a whole number from 1 to 5."]}
