"""Strict input for every app's API (a public module of the framework): unknown fields and wrong types are 400,
never silently ignored or turned into a 500.

- `StrictSerializer` / `UnknownFieldsRejected`: a field the serializer does not know is "Unknown field.".
- `StrictCharField`, `StrictIntegerField`, `StrictFloatField`: no booleans for numbers, no numbers for text, and
  no text for numbers in a JSON body (a query string has nothing but text).
"""

from __future__ import annotations

import math

from django.http import QueryDict
from rest_framework import serializers

from scheduler_app.registry import JOB_ID_PATTERN, job_id_validator

# Query-string names every list reads besides its filters (the paginator and DRF's format suffix).
PAGING_PARAMS = frozenset({"format", "page", "page_size"})


def _typed_input(field) -> bool:
    """Whether the field's data came typed (a JSON body), not as text (a query string or a form)."""
    return getattr(field.parent, "typed_input", False)


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers, booleans and objects instead of turning them into text. (DRF's CharField
    already refuses NUL characters and lone surrogates.)"""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """An IntegerField that refuses booleans and fractions (JSON true is not team 1, 1.5 is not 1), and text in a
    JSON body ("1" is a string there; a query string has nothing but text)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, float) and not data.is_integer()):
            self.fail("invalid")
        if isinstance(data, str) and _typed_input(self):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    """A FloatField that refuses booleans, text in a JSON body, and NaN or infinity."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, str) and _typed_input(self)):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("invalid")
        return value


class JobIdField(StrictCharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=64, trim_whitespace=False, **kwargs)
        self.validators.append(job_id_validator)


class UnknownFieldsRejected:
    """A serializer mixin: a field it does not know is an error, not silently ignored. `ignored` names extra keys
    it tolerates (the paginator's, in a query string). Sets `typed_input` for its fields: False for a QueryDict."""

    ignored: frozenset[str] | set[str] = frozenset()

    def to_internal_value(self, data):
        self.typed_input = not isinstance(data, QueryDict)
        if hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields) - set(self.ignored))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class StrictSerializer(UnknownFieldsRejected, serializers.Serializer):
    """Unknown fields are an error, not silently ignored."""


class StrictFilterSerializer(StrictSerializer):
    """A list's query-string filters: unknown names are 400; the paginator's own names pass."""

    ignored = PAGING_PARAMS


__all__ = ["JOB_ID_PATTERN", "PAGING_PARAMS", "JobIdField", "StrictCharField", "StrictFilterSerializer",
           "StrictFloatField", "StrictIntegerField", "StrictSerializer", "UnknownFieldsRejected"]
