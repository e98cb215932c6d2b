"""Strict input for every app's API (a public module of the framework): unknown fields and wrong types are 400,
never silently ignored or turned into a 500.

- `StrictSerializer` / `UnknownFieldsRejected`: a field the serializer does not know is "Unknown field.".
- `StrictCharField`, `StrictIntegerField`, `StrictFloatField`: no booleans for numbers, no numbers for text, and
  no text for numbers in a JSON body (a query string has nothing but text).
"""

from __future__ import annotations

import math

from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
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
        if self.max_length is not None and len(data) > self.max_length:
            # The schema's maxLength counts the text as sent; DRF's own check counts it after trimming.
            self.fail("max_length", max_length=self.max_length)
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


class StrictDecimalField(serializers.DecimalField):
    """A decimal as the document says it: a string ("52000.00") in a JSON body, not a JSON number (which would
    pass through a float); a query string has nothing but text anyway."""

    def to_internal_value(self, data):
        if _typed_input(self) and not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)

    def validate_empty_values(self, data):
        if data == "":  # not null: null is null
            self.fail("invalid")
        return super().validate_empty_values(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false in a JSON body (not 0, 1 or "yes"); in a query string, DRF's spellings (true, false, 1, 0)."""

    def to_internal_value(self, data):
        if _typed_input(self) and not isinstance(data, bool):
            self.fail("invalid", input=data)
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.DATETIME)
class DateTimeTextField(StrictCharField):
    """An RFC 3339 date-time in the schema, kept as text: the view parses it with its own rule for a naive value."""


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
        if isinstance(data, QueryDict):
            # A plain mapping: DRF reads a QueryDict as an HTML form, where "?source=" means "absent"; here it is a
            # blank value, refused where the field may not be blank, as the OpenAPI document says (minLength 1).
            data = {name: data.get(name) for name in data}
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


__all__ = ["JOB_ID_PATTERN", "PAGING_PARAMS", "JobIdField", "StrictBooleanField", "StrictCharField",
           "StrictDecimalField", "StrictFilterSerializer", "StrictFloatField", "StrictIntegerField",
           "StrictSerializer", "UnknownFieldsRejected"]
