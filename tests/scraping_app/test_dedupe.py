"""The duplicate rules (scraping_app.dedupe): every variant the issue names merges; distinct openings stay apart."""

from __future__ import annotations

import pytest

from scraping_app.dedupe import (
    DedupeRow,
    company_normalize,
    dedupe_key,
    dedupe_resolve,
    description_similarity,
    location_normalize,
    place_normalize,
    similarity_threshold,
    title_normalize,
)

DESCRIPTION = ("You will design and build the payment services that move money for our customers, own them in "
               "production, review code, mentor two engineers and work with product on what we build next quarter.")
OTHER_OPENING = ("You will run the data platform: batch pipelines in Spark, the warehouse, and the dashboards the "
                 "finance team reads every morning; on call one week in six, with a generous learning budget.")


@pytest.mark.parametrize("variant, canonical", [
    ("Acme Inc.", "Acme"), ("Acme GmbH", "Acme"), ("ACME, LLC", "Acme"), ("Acme Ltd", "Acme"), ("Acme AG", "Acme"),
    ("Acme SA", "Acme"), ("Acme SAS", "Acme"), ("Acme B.V.", "Acme"), ("Acme Oy", "Acme"), ("Acme AB", "Acme"),
    ("Acme Corp.", "Acme"), ("Acme Co.", "Acme"), ("Acme plc", "Acme"), ("Acme S.L.", "Acme"),
    ("Acme GmbH & Co. KG", "Acme"), ("The Acme Company", "Acme"), ("Zürich Versicherung AG", "Zurich Versicherung"),
])
def test_company_legal_suffixes_case_and_diacritics_go(variant, canonical):
    assert company_normalize(variant) == company_normalize(canonical)


def test_a_company_named_like_a_suffix_keeps_its_name():
    assert company_normalize("Co") == "co"
    assert company_normalize("AB InBev") == "ab inbev"


@pytest.mark.parametrize("variant", [
    "Sr. Backend Engineer", "Senior Back-end Engineer", "Senior Back end Engineer", "Snr Backend Engineer",
    "Senior Backend Engineer (m/w/d)", "Senior Backend Engineer (m/f/d)", "Senior Backend Engineer (f/m/x)",
    "Senior Backend Engineer (w/m/d)", "Senior Backend Engineer (all genders)", "Senior Backend Engineer (h/f)",
    "Senior Backend Engineer m/w/d", "SENIOR BACKEND ENGINEER", "Senior Backend Engineer!", "Senior Backend Eng.",
])
def test_title_variants_normalise_to_one(variant):
    assert title_normalize(variant) == title_normalize("Senior Backend Engineer") == "senior backend engineer"


@pytest.mark.parametrize("variant, canonical", [
    ("Jr. Front-End Developer", "Junior Frontend Developer"), ("Full-stack Dev", "Fullstack Developer"),
    ("Full Stack Developer", "Fullstack Developer"), ("Mid-Level Engineer", "Mid level Engineer"),
    ("Intermediate Engineer", "Mid-level Engineer"), ("Dev-Ops Engineer", "DevOps Engineer"),
    ("Dev Ops Engineer", "DevOps Engineer"),
])
def test_seniority_words_and_hyphenation(variant, canonical):
    assert title_normalize(variant) == title_normalize(canonical)


def test_seniority_levels_stay_different():
    assert title_normalize("Senior Backend Engineer") != title_normalize("Junior Backend Engineer")
    assert title_normalize("Backend Engineer") != title_normalize("Frontend Engineer")


@pytest.mark.parametrize("location, city, country", [
    ("Berlin, Germany", "berlin", "germany"), ("Berlin, DE", "berlin", "germany"), ("Berlin", "berlin", ""),
    ("Berlin (Hybrid)", "berlin", ""), ("Hybrid - Berlin", "berlin", ""), ("München, Deutschland", "munich", "germany"),
    ("New York, NY", "new york", "united states"), ("NYC", "new york", ""), ("Zürich, CH", "zurich", "switzerland"),
    ("Germany", "", "germany"), ("Remote", "remote", ""), ("Remote (EU)", "remote", "europe"),
    ("Remote - US", "remote", "united states"), ("US Remote", "remote", "united states"), ("", "", ""),
])
def test_location_to_city_and_country(location, city, country):
    assert location_normalize(location) == (city, country)


def test_the_place_is_the_city_else_the_country_else_remote():
    assert place_normalize("Berlin, Germany") == place_normalize("Berlin") == "berlin"
    assert place_normalize("Germany") == "germany"  # a country alone does not say which city: its own place
    assert place_normalize("Remote - US") == place_normalize("Remote") == "remote"


def test_the_issue_s_eight_copies_share_one_key():
    copies = [("Acme", "Senior Backend Engineer", "Berlin"), ("Acme Inc.", "Sr. Backend Engineer", "Berlin"),
              ("Acme GmbH", "Senior Back-end Engineer (m/w/d)", "Berlin, Germany"),
              ("ACME", "Senior Backend Engineer", "Berlin, DE"), ("Acme", "Sr Back-End Engineer (f/m/x)", "Berlin"),
              ("Acme GmbH", "Senior Backend Engineer (all genders)", "Berlin (Hybrid)"),
              ("acme inc", "senior backend engineer", "berlin"), ("Acme", "Snr. Backend Engineer", "Berlin, Germany")]
    keys = {dedupe_key(company=company, title=title, location=location) for company, title, location in copies}
    assert len(keys) == 1
    assert len(next(iter(keys))) == 64


def test_what_is_not_merged_by_design():
    base = dedupe_key(company="Acme", title="Senior Backend Engineer", location="Berlin")
    assert dedupe_key(company="Acme", title="Senior Backend Engineer", location="Germany") != base  # country only
    assert dedupe_key(company="Acme", title="Engineer, Senior Backend", location="Berlin") != base  # word order


def test_a_different_city_title_or_company_is_another_key():
    base = dedupe_key(company="Acme", title="Backend Engineer", location="Berlin")
    assert dedupe_key(company="Acme", title="Backend Engineer", location="Munich") != base
    assert dedupe_key(company="Acme", title="Frontend Engineer", location="Berlin") != base
    assert dedupe_key(company="Acmes", title="Backend Engineer", location="Berlin") != base


def test_description_similarity():
    assert description_similarity(DESCRIPTION, DESCRIPTION) == 1.0
    padded = DESCRIPTION + " Apply through our board: we forward every application within a day."
    assert description_similarity(DESCRIPTION, padded) == 1.0  # a board's footer
    assert description_similarity(DESCRIPTION, DESCRIPTION[:120]) > 0.9  # a truncated copy (its last word cut)
    assert description_similarity(DESCRIPTION.upper(), DESCRIPTION) == 1.0  # case and punctuation
    assert description_similarity(DESCRIPTION, OTHER_OPENING) < 0.1
    assert description_similarity("", DESCRIPTION) == 1.0 and description_similarity("", "") == 1.0


def test_the_threshold_setting(settings):
    assert similarity_threshold() == 0.6
    settings.DEDUPE_SIMILARITY_THRESHOLD = 0.9
    assert similarity_threshold() == 0.9
    del settings.DEDUPE_SIMILARITY_THRESHOLD
    assert similarity_threshold() == 0.6  # the default without the setting


def _row(pk, title="Software Engineer", description=DESCRIPTION, company="Acme", location="Berlin", **kw):
    return DedupeRow(id=pk, company=company, title=title, location=location, description=description, **kw)


def test_copies_link_to_the_oldest_canonical():
    rows = [_row(1), _row(2, title="Software Engineer (m/w/d)", company="Acme GmbH"), _row(3, location="Berlin, DE")]
    resolved = dedupe_resolve(rows=rows, canonicals=[], threshold=0.6)
    assert [resolved[pk][1] for pk in (1, 2, 3)] == [None, 1, 1]
    assert len({key for key, _ in resolved.values()}) == 1


def test_distinct_openings_with_one_title_at_one_company_stay_apart():
    resolved = dedupe_resolve(rows=[_row(1), _row(2, description=OTHER_OPENING), _row(3)], canonicals=[],
                              threshold=0.6)
    assert resolved[1][1] is None and resolved[2][1] is None  # two openings, two canonicals
    assert resolved[3][1] == 1  # a copy of the first goes to the first


def test_empty_descriptions_let_the_key_decide():
    resolved = dedupe_resolve(rows=[_row(1, description=""), _row(2, description=""), _row(3),
                                    _row(4, description="Apply now")], canonicals=[], threshold=0.6)
    assert resolved[2][1] == 1 and resolved[3][1] == 1 and resolved[4][1] == 1  # under three words: no text


def test_a_stored_canonical_is_found():
    key = dedupe_key(company="Acme", title="Software Engineer", location="Berlin")
    resolved = dedupe_resolve(rows=[_row(10)], canonicals=[_row(4, key=key)], threshold=0.6)
    assert resolved[10] == (key, 4)


def test_a_re_upsert_keeps_what_it_was():
    key = dedupe_key(company="Acme", title="Software Engineer", location="Berlin")
    rows = [_row(5, key=key, duplicate_of=4), _row(6, key=key)]  # 6 is a canonical of the same key (a race)
    resolved = dedupe_resolve(rows=rows, canonicals=[_row(4, key=key)], threshold=0.6)
    assert resolved == {5: (key, 4), 6: (key, None)}
    merged = dedupe_resolve(rows=[_row(6, key=key)], canonicals=[_row(4, key=key)], threshold=0.6,
                            merge_canonicals=True)
    assert merged == {6: (key, 4)}  # the command merges canonicals of one job


def test_a_posting_with_copies_never_becomes_a_copy():
    key = dedupe_key(company="Acme", title="Software Engineer", location="Berlin")
    row = _row(6, key="old", has_copies=True)  # its title changed to one an older canonical has
    assert dedupe_resolve(rows=[row], canonicals=[_row(4, key=key)], threshold=0.6) == {6: (key, None)}


def test_the_threshold_decides():
    half = " ".join(DESCRIPTION.split()[:18]) + " " + OTHER_OPENING
    assert 0.3 < description_similarity(half, DESCRIPTION) < 0.9
    strict = dedupe_resolve(rows=[_row(1), _row(2, description=half)], canonicals=[], threshold=0.9)
    loose = dedupe_resolve(rows=[_row(1), _row(2, description=half)], canonicals=[], threshold=0.3)
    assert strict[2][1] is None and loose[2][1] == 1
