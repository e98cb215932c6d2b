"""Managing job sources: source_add (kind, URL, name, budget) and source_set_enabled."""

from __future__ import annotations

import pytest

from scraping_app.models import JobSource
from scraping_app.services import SourceInputError, source_add, source_set_enabled
from scraping_app.sources import SOURCE_CLASSES


@pytest.fixture
def no_sources(db):
    JobSource.objects.all().delete()


def test_a_source_without_url_takes_the_boards_defaults_and_is_disabled(no_sources):
    source = source_add(kind="remotive")
    adapter = SOURCE_CLASSES["remotive"]
    assert source.name == "Remotive"
    assert source.base_url == adapter.default_url
    assert source.enabled is False
    assert source.params == {}
    assert source.min_interval_seconds == adapter.budget.min_interval_seconds
    assert source.daily_request_cap == adapter.budget.daily_request_cap


def test_enabled_name_and_params_as_asked(no_sources):
    source = source_add(kind="sample", name="  My sample  ", params={"company": "acme"}, enabled=True)
    assert (source.name, source.params, source.enabled, source.base_url) == ("My sample", {"company": "acme"}, True,
                                                                             "")


@pytest.mark.parametrize("url, name", [
    ("https://boards-api.greenhouse.io/v1/boards/acme/jobs", "Greenhouse acme"),
    ("https://boards-api.greenhouse.io/v1/boards/acme/jobs/", "Greenhouse acme"),
    ("https://boards.example.com/api/v1/jobs", "Greenhouse boards.example.com"),
])
def test_the_default_name_comes_from_the_url(no_sources, url, name):
    source = source_add(kind="greenhouse", url=url)
    assert source.name == name
    assert source.base_url == url


def test_the_url_is_stripped(no_sources):
    assert source_add(kind="lever", url="  https://api.lever.co/v0/postings/acme  ").base_url == \
        "https://api.lever.co/v0/postings/acme"


def test_an_unknown_kind(no_sources):
    with pytest.raises(SourceInputError, match="Unknown source kind 'monster'"):
        source_add(kind="monster")


@pytest.mark.parametrize("url", ["ftp://example.com/jobs", "not a url", "example.com/jobs", "javascript:alert(1)"])
def test_an_invalid_url(no_sources, url):
    with pytest.raises(SourceInputError, match="give a full http\\(s\\) URL"):
        source_add(kind="remotive", url=url)
    assert not JobSource.objects.exists()


@pytest.mark.parametrize("kind", ["greenhouse", "lever", "ashby"])
def test_a_board_that_needs_a_url(no_sources, kind):
    with pytest.raises(SourceInputError, match=f"--url is required for {kind}"):
        source_add(kind=kind, url="   ")


def test_a_duplicate_name(no_sources):
    source_add(kind="remotive")
    with pytest.raises(SourceInputError, match="A source named 'Remotive' already exists"):
        source_add(kind="remotive")
    assert JobSource.objects.count() == 1


def test_set_enabled_turns_a_source_on_and_off(no_sources):
    source = source_add(kind="sample")
    assert source_set_enabled(source_id=source.pk, enabled=True).enabled is True
    assert JobSource.objects.get(pk=source.pk).enabled is True
    assert source_set_enabled(source_id=source.pk, enabled=False).enabled is False
    assert JobSource.objects.get(pk=source.pk).enabled is False


def test_set_enabled_to_the_same_value_writes_nothing(no_sources, django_assert_num_queries):
    source = source_add(kind="sample")
    with django_assert_num_queries(1):  # the read only
        source_set_enabled(source_id=source.pk, enabled=False)


def test_set_enabled_of_an_unknown_id(no_sources):
    with pytest.raises(SourceInputError, match="Unknown source id 999999"):
        source_set_enabled(source_id=999999, enabled=True)
