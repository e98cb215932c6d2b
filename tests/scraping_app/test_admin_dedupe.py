"""The admin's posting pages show the duplicate links: the canonical / duplicate filter, the copies inline."""

from __future__ import annotations

import pytest

from scraping_app.services.postings import postings_upsert
from scraping_app.sources.base import PostingData
from tests.scraping_app.conftest import make_source

pytestmark = pytest.mark.django_db
TEXT = "Own the payment services that move money for our customers, in production, with code review."


def test_the_filter_and_the_copies(admin_client):
    a, b = make_source("sample", name="board a"), make_source("sample", name="board b")
    postings_upsert(source=a, postings=[PostingData("1", "Backend Engineer", company="Acme", description_text=TEXT)])
    postings_upsert(source=b, postings=[PostingData("xyz-copy", "Back-end Engineer", company="Acme GmbH",
                                                    description_text=TEXT)])
    canonical, copy = a.postings.get(), b.postings.get()
    assert copy.duplicate_of_id == canonical.pk
    page = "/admin/scraping_app/jobposting/"
    canonical_only = admin_client.get(f"{page}?canonical=yes").context["cl"].result_list
    duplicates_only = admin_client.get(f"{page}?canonical=no").context["cl"].result_list
    assert [p.pk for p in canonical_only] == [canonical.pk] and [p.pk for p in duplicates_only] == [copy.pk]
    change = admin_client.get(f"{page}{canonical.pk}/change/")
    assert change.status_code == 200
    assert b"copies on other boards" in change.content.lower() and b"xyz-copy" in change.content
    assert admin_client.get(f"{page}{copy.pk}/change/").status_code == 200
