"""params_parse: `--param KEY=VALUE` items into a dict of strings."""

from __future__ import annotations

import pytest

from scheduler_app.params import params_parse


def test_pairs_become_a_dict_of_strings():
    assert params_parse(["keyword=python", "limit=5"]) == {"keyword": "python", "limit": "5"}


def test_no_items_is_an_empty_dict():
    assert params_parse([]) == {}
    assert params_parse(iter(())) == {}


def test_only_the_first_equals_sign_splits():
    assert params_parse(["query=a=b==c"]) == {"query": "a=b==c"}


def test_empty_value_is_kept():
    assert params_parse(["keyword="]) == {"keyword": ""}


def test_key_is_stripped_value_is_not():
    assert params_parse([" keyword = python "]) == {"keyword": " python "}


def test_a_later_item_wins_for_the_same_key():
    assert params_parse(["limit=5", "limit=7"]) == {"limit": "7"}


@pytest.mark.parametrize("item", ["keyword", "", "=python", "   =python"])
def test_not_key_value_raises_naming_the_item(item):
    with pytest.raises(ValueError) as excinfo:
        params_parse(["ok=1", item])
    assert str(excinfo.value) == f"--param expects KEY=VALUE, got {item!r}"


def test_first_bad_item_is_named():
    with pytest.raises(ValueError, match="got 'first'"):
        params_parse(["first", "second"])
