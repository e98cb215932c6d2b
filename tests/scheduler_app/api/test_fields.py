"""The strict input fields: what the OpenAPI document says of a text is what the field checks."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from scheduler_app.api.fields import StrictCharField


class _Input(serializers.Serializer):
    name = StrictCharField(max_length=5)


def test_the_length_limit_counts_the_text_as_sent_not_as_trimmed():
    """The schema's maxLength counts what was sent: a 6-character name whose first character is whitespace
    (here \\x1e, which Python's strip() removes) is refused, as the document says, not trimmed to 5 and kept."""
    assert not _Input(data={"name": "\x1eabcde"}).is_valid()
    assert _Input(data={"name": " abcd"}).is_valid()  # 5 as sent: kept, and trimmed as before


@pytest.mark.parametrize("value", [5, True, {"a": 1}])
def test_only_text_is_text(value):
    assert not _Input(data={"name": value}).is_valid()
