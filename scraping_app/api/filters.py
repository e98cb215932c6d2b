"""The postings list's filter vocabulary, in one place: GET /api/v1/jobs validates its query string with
`PostingFilterSerializer`, and a saved search its stored `filters` with `SavedSearchFilterSerializer` (the same
fields, minus the text, location and sort a saved search keeps elsewhere or does not need)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import serializers

from scheduler_app.api.fields import (
    StrictBooleanField,
    StrictCharField,
    StrictDecimalField,
    StrictFilterSerializer,
    StrictIntegerField,
)
from scheduler_app.api.schema import PY_SPACE
from scraping_app.api.fields import LenientDateTimeField
from scraping_app.normalize import EMPLOYMENT_TYPES, SENIORITIES, employment_type_normalize
from scraping_app.saved_search_filters import saved_search_filters_dump
from scraping_app.selectors import SORTS
from scraping_app.services.scrape import KEYWORD_MAX_LENGTH, LOCATION_MAX_LENGTH

SEARCH_MAX_LENGTH = 500
HOURS_MAX = 24 * 365 * 10


def choices_list(choices: tuple[str, ...], *, normalize=None):
    """A comma list of `choices` (as a query string gives it); `normalize` maps other spellings first."""

    def parse(value: str) -> list[str]:
        items = [item.strip() for item in value.split(",") if item.strip()]
        if not items:
            raise serializers.ValidationError("Name at least one value.")
        parsed = [normalize(item) if normalize else item.lower() for item in items]
        unknown = [item for item, value in zip(items, parsed, strict=True) if value not in choices]
        if unknown:
            raise serializers.ValidationError(f"Unknown value(s): {', '.join(unknown)}. Use {', '.join(choices)}.")
        return sorted(set(parsed))

    return parse


class CommaListField(StrictCharField):
    """A comma-separated list in one query parameter ("tags=python,django"); in a JSON body, that text or a list
    of strings (["python", "django"])."""

    default_error_messages = {"invalid": "Give a comma list, or a list of strings without commas."}

    def __init__(self, *, parse, **kwargs):
        self.parse = parse
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, list) and getattr(self.parent, "typed_input", False):
            # A JSON body (a saved search's filters) may give the list as a list of strings.
            if not data or not all(isinstance(item, str) and "," not in item for item in data):
                self.fail("invalid")
            data = ",".join(data)
        return self.parse(super().to_internal_value(data))


def _tags(value: str) -> list[str]:
    tags = sorted({tag.strip().lower() for tag in value.split(",") if tag.strip()})
    if not tags or len(tags) > 20 or any(len(tag) > 100 for tag in tags):
        raise serializers.ValidationError("Name 1 to 20 tags of up to 100 characters, separated by commas.")
    return tags


def comma_list_of(values) -> str:
    """The pattern of a comma list of `values`."""
    one = "(?:" + "|".join(values) + ")"
    return rf"^\s*{one}(?:\s*,\s*{one})*\s*$"


# What the filter fields check that their derived schema does not say: the comma lists' vocabularies (the boards'
# own spellings of an employment type are accepted too) and a salary of at least 0.
FILTER_SCHEMA_EXACT = [
    OpenApiParameter("employment_type", {"type": "string", "pattern": comma_list_of(EMPLOYMENT_TYPES)},
                     description=f"Any of (comma list): {', '.join(EMPLOYMENT_TYPES)}."),
    OpenApiParameter("seniority", {"type": "string", "pattern": comma_list_of(SENIORITIES)},
                     description=f"Any of (comma list): {', '.join(SENIORITIES)}."),
    OpenApiParameter("salary_min", {"type": "string", "format": "decimal",
                                    "pattern": r"^(?:\d{1,12}(?:\.\d{0,2})?|\.\d{1,2})$"},
                     description="Annual, in SALARY_BASE_CURRENCY (default USD)."),
]


class PostingFilterSerializer(StrictFilterSerializer):
    """GET /api/v1/jobs's filters: the one vocabulary of posting filters (saved searches take it too)."""

    ignored = {"format", "page_size", "cursor"}  # no `page`: pages go by cursor (a `page` is a 400)

    q = StrictCharField(required=False, max_length=SEARCH_MAX_LENGTH, trim_whitespace=False,
                        help_text='Words (all must match), "a phrase", a OR b, -excluded.')
    keyword = StrictCharField(required=False, max_length=KEYWORD_MAX_LENGTH, help_text="The older name of q.")
    location = StrictCharField(required=False, max_length=LOCATION_MAX_LENGTH,
                               help_text='Part of the location, any case; "remote" means remote postings.')
    remote = serializers.BooleanField(required=False, allow_null=True, default=None)
    source = StrictCharField(required=False, max_length=100, help_text="A source's id, kind or name.")
    posted_after = LenientDateTimeField(required=False)
    posted_within_hours = serializers.IntegerField(required=False, min_value=1, max_value=HOURS_MAX)
    hours_old = serializers.IntegerField(required=False, min_value=1, max_value=HOURS_MAX,
                                         help_text="The same as posted_within_hours (JobSpy's name).")
    employment_type = CommaListField(
        required=False, parse=choices_list(EMPLOYMENT_TYPES, normalize=lambda v: employment_type_normalize(
            value=v)), help_text=f"Any of (comma list): {', '.join(EMPLOYMENT_TYPES)}.")
    salary_min = serializers.DecimalField(required=False, max_digits=14, decimal_places=2, min_value=0,
                                          help_text="Annual, in SALARY_BASE_CURRENCY (default USD).")
    seniority = CommaListField(required=False, parse=choices_list(SENIORITIES),
                               help_text=f"Any of (comma list): {', '.join(SENIORITIES)}.")
    company = StrictCharField(required=False, max_length=200, help_text="Case-insensitive prefix.")
    tags = CommaListField(required=False, parse=_tags, help_text="Any of (comma list), any case.")
    duplicates = StrictBooleanField(required=False, default=False,
                                    help_text="true: every board's copy of a job; default: one posting per job.")
    sort = serializers.ChoiceField(required=False, choices=SORTS,
                                   help_text="relevance (the default with q), recent (the default without), "
                                             "salary (annual maximum, highest first).")

    def validate(self, attrs: dict) -> dict:
        # The older names may come with the new ones (each is valid alone): both apply, together.
        if "keyword" in attrs:
            keyword = attrs.pop("keyword")
            attrs["q"] = f"{keyword} {attrs['q']}" if "q" in attrs else keyword
        if "hours_old" in attrs:
            hours = attrs.pop("hours_old")
            attrs["posted_within_hours"] = min(hours, attrs.get("posted_within_hours", hours))
        return attrs


def _documented(field: serializers.Field, schema: dict) -> serializers.Field:
    """A copy of the list's `field` whose OpenAPI schema is `schema` (a JSON body's exact shape)."""
    documented = extend_schema_field(schema)(type(type(field).__name__, (type(field),), {}))
    return documented(*field._args, **{**field._kwargs, "help_text": schema["description"]})


def _list_schema(values: tuple[str, ...], description: str) -> dict:
    return {"oneOf": [{"type": "string", "pattern": comma_list_of(values)},
                      {"type": "array", "minItems": 1, "items": {"type": "string", "enum": list(values)}}],
            "description": description}


_TAG = r"[^,\x00]{0,100}"
_TAGS_SCHEMA = {
    "oneOf": [{"type": "string", "pattern": rf"^(?=[^\x00]*[^,\x00{PY_SPACE}]){_TAG}(?:,{_TAG}){{0,19}}$"},
              {"type": "array", "minItems": 1, "maxItems": 20,
               "items": {"type": "string", "maxLength": 100,
                         "pattern": rf"^[^,\x00]*[^,\x00{PY_SPACE}][^,\x00]*$"}}],
    "description": "Any of (a list, or a comma list), any case; 1 to 20 tags of up to 100 characters."}
_LIST_FIELDS = PostingFilterSerializer._declared_fields


class SavedSearchFilterSerializer(PostingFilterSerializer):
    """A saved search's `filters`: every list filter but the text (`keyword`), `location` (both columns of the
    search) and `sort`. A JSON body is typed: `remote` true/false, hours as integers, `salary_min` a decimal
    string, the lists a list of strings or a comma list."""

    ignored = frozenset()
    q = keyword = location = sort = None
    duplicates = None  # a digest lists one posting per real job

    remote = StrictBooleanField(required=False)
    posted_within_hours = StrictIntegerField(required=False, min_value=1, max_value=HOURS_MAX)
    hours_old = StrictIntegerField(required=False, min_value=1, max_value=HOURS_MAX,
                                   help_text="The same as posted_within_hours (JobSpy's name); stored as that.")
    salary_min = _documented(StrictDecimalField(required=False, max_digits=14, decimal_places=2, min_value=0),
                             {**FILTER_SCHEMA_EXACT[2].type, "description": FILTER_SCHEMA_EXACT[2].description})
    employment_type = _documented(_LIST_FIELDS["employment_type"], _list_schema(
        EMPLOYMENT_TYPES, f"Any of (a list, or a comma list): {', '.join(EMPLOYMENT_TYPES)}."))
    seniority = _documented(_LIST_FIELDS["seniority"], _list_schema(
        SENIORITIES, f"Any of (a list, or a comma list): {', '.join(SENIORITIES)}."))
    tags = _documented(_LIST_FIELDS["tags"], _TAGS_SCHEMA)


def saved_search_filters_validate(data) -> dict:
    """`data` (filter names to values) checked by SavedSearchFilterSerializer, returned as the JSON-safe dict a
    saved search stores. Raises ValidationError keyed by each bad filter's name ("Unknown field." for a name that
    is not a filter)."""
    if not isinstance(data, dict):
        raise serializers.ValidationError(["Give an object of filters, e.g. {\"remote\": true}."])
    checked = SavedSearchFilterSerializer(data=data)
    if not checked.is_valid():
        raise serializers.ValidationError(checked.errors)
    return saved_search_filters_dump(checked.validated_data)
