"""The search language (scraping_app.search) and its behaviour on the database under test: the same matches on
SQLite (FTS5) and PostgreSQL (tsvector), whatever the user types."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from scraping_app import selectors
from scraping_app.models import JobPosting
from scraping_app.search import Group, SearchTree, Term, websearch_parse
from tests.scraping_app.conftest import make_source


def terms(*items: str) -> list[Term]:
    return [Term(tuple(item.split())) for item in items]


class TestParse:
    def test_bare_words_are_all_required(self):
        assert websearch_parse("Senior  Backend") == SearchTree([Group(terms("senior", "backend"))])

    def test_a_quoted_phrase_is_one_term(self):
        tree = websearch_parse('"machine learning" python')
        assert tree == SearchTree([Group(terms("machine learning", "python"))])

    def test_or_splits_alternatives_as_websearch_to_tsquery_does(self):
        assert websearch_parse("senior backend or frontend") == SearchTree(
            [Group(terms("senior", "backend")), Group(terms("frontend"))])
        assert websearch_parse("OR a OR OR b or") == SearchTree([Group(terms("a")), Group(terms("b"))])

    def test_minus_excludes_a_word_or_a_phrase(self):
        assert websearch_parse('python -django -"data science"') == SearchTree(
            [Group(terms("python"), excluded=terms("django", "data science"))])

    def test_a_hyphen_inside_a_word_is_a_phrase_not_an_exclusion(self):
        assert websearch_parse("back-end node.js") == SearchTree([Group(terms("back end", "node js"))])

    @pytest.mark.parametrize("text", ["", "   ", "-", '"', '""', "!!!", "OR", "- - -", "()", "*", "^~"])
    def test_text_without_words_is_no_filter(self, text):
        assert not websearch_parse(text)

    def test_the_postgresql_string_is_canonical(self):
        tree = websearch_parse('a "b  c" -d OR e "or" x:y')
        assert tree.websearch() == 'a "b c" -d or e "or" "x y"'

    def test_fts5_text_is_always_quoted(self):
        tree = websearch_parse('python NEAR(x) "AND" -"NOT" col:umn*')
        assert tree.fts5() == '(("python" AND "near x" AND "and" AND "col umn") NOT ("not"))'
        assert websearch_parse("a or -b").fts5() == ""  # an alternative without a positive term: no one MATCH


@pytest.fixture
def store(db):
    source = make_source("sample", name="Sample")
    now = timezone.now()

    def posting(job_id: str, title: str, description: str = "", company: str = "Acme", days: int = 1):
        return JobPosting.objects.create(source=source, source_job_id=job_id, title=title, company=company,
                                         description_text=description, first_seen_at=now, last_seen_at=now,
                                         posted_at=now - timedelta(days=days), fingerprint=job_id)

    return {
        "py": posting("py", "Python developer", "We use Django and Postgres.", days=5),
        "ml": posting("ml", "Data scientist", "Machine learning with python, no django.", days=4),
        "ml_reversed": posting("mlr", "Researcher", "Learning machine design.", days=3),
        "backend": posting("be", "Senior Backend Engineer", "Go and Rust.", company="Backend GmbH", days=2),
        "frontend": posting("fe", "Frontend developer", "React, node.js.", company="Pythonic", days=1),
    }


def found(text: str, **filters) -> list[str]:
    return [p.source_job_id for p in selectors.postings_search(q=text, **filters)]


@pytest.mark.django_db
class TestSearchOnTheDatabase:
    def test_a_word_matches_title_company_or_description_whole_words_any_case(self, store):
        assert sorted(found("PYTHON")) == ["ml", "py"]  # "Pythonic" is another word
        assert found("pythonic") == ["fe"]
        assert found("postgres") == ["py"]

    def test_all_bare_words_in_any_order(self, store):
        assert found("backend senior") == ["be"] == found("senior backend")

    def test_a_phrase_needs_its_words_in_order(self, store):
        assert found('"machine learning"') == ["ml"]
        assert sorted(found("machine learning")) == ["ml", "mlr"]

    def test_or_and_exclusion(self, store):
        assert sorted(found("rust or react")) == ["be", "fe"]
        assert found("python -django") == []  # both python postings mention django
        assert found("python -postgres") == ["ml"]
        assert found('learning -"machine learning"') == ["mlr"]

    def test_exclusion_alone_and_in_an_alternative(self, store):
        assert sorted(found("-django")) == ["be", "fe", "mlr"]
        assert sorted(found("rust or -django")) == ["be", "fe", "mlr"]

    def test_node_js_finds_the_stored_node_js(self, store):
        assert found("node.js") == ["fe"] == found('"node js"')

    @pytest.mark.parametrize("text", ['"', "NEAR(", "a AND", "*", "title:x", 'x"y', "-", "OR OR", "'); DROP",
                                      "\\", "^", "a NOT b", "(((", "😀 python", "ünïcode", "0x00", "%_"])
    def test_odd_input_never_errors(self, store, text):
        found(text)  # no exception from either database's query parser

    def test_ranked_by_relevance_then_recent_on_demand(self, store):
        # "python" in the title ranks above "python" in a description, though that posting is newer
        assert found("python") == ["py", "ml"]
        assert found("python", sort="recent") == ["ml", "py"]

    def test_the_index_follows_updates_and_deletes(self, store):
        posting = store["backend"]
        posting.title = "Staff Kotlin Engineer"
        posting.save()
        assert found("kotlin") == ["be"] and found("senior") == []
        posting.delete()
        assert found("kotlin") == []


@pytest.mark.django_db
def test_the_search_structures_exist(store):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = "
                           "'scraping_app_jobposting'")
            assert {row[0] for row in cursor.fetchall()} == {
                "scraping_app_jobposting_fts_ai", "scraping_app_jobposting_fts_ad", "scraping_app_jobposting_fts_au"}
        else:
            cursor.execute("SELECT column_name, is_generated FROM information_schema.columns WHERE table_name = "
                           "'scraping_app_jobposting' AND column_name IN ('search_vector', 'rank_vector')")
            assert sorted(cursor.fetchall()) == [("rank_vector", "ALWAYS"), ("search_vector", "ALWAYS")]
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'scraping_app_jobposting'")
            assert {"scraping_app_jobposting_search_gin", "scraping_app_jobposting_rank_gin",
                    "scraping_app_jobposting_recent_canonical", "scraping_app_jobposting_recent",
                    "scraping_app_jobposting_salary"} <= {row[0] for row in cursor.fetchall()}
