"""team_from_id: a team id into a Team through the field SCHEDULER_TEAM_ID_FIELD names, or ValueError."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from scheduler_app.teams import team_from_id, team_id_field_class
from scraping_app.api.fields import TeamIdField
from scraping_app.models import Team


def test_the_setting_names_the_field_class():
    assert team_id_field_class() is TeamIdField


def test_an_existing_id_gives_the_team(team):
    assert team_from_id(team.pk) == team
    assert team_from_id(str(team.pk)) == team


def test_any_existing_team_will_do_without_a_request(db, django_user_model):
    other = Team.objects.create(name="Nobody's")
    assert team_from_id(other.pk) == other


@pytest.mark.parametrize("team_id, message", [
    (999, "Unknown team."),
    (0, "Unknown team."),
    (-1, "Unknown team."),
    ("abc", "A valid integer is required."),
    ("", "A valid integer is required."),
    (True, "A valid integer is required."),
    (1.0, "A valid integer is required."),
])
def test_invalid_or_unknown_ids_raise_value_error_with_the_fields_message(team, team_id, message):
    with pytest.raises(ValueError) as excinfo:
        team_from_id(team_id)
    assert str(excinfo.value) == message
    assert not isinstance(excinfo.value, serializers.ValidationError)
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__


class EvenOnlyField(serializers.Field):
    """A stand-in domain field: only even ids, returned as the id itself."""

    def to_internal_value(self, data):
        if int(data) % 2:
            raise serializers.ValidationError(["Odd.", "Try even."])
        return {"team": int(data)}


def test_the_field_named_by_the_setting_is_what_is_used(settings):
    settings.SCHEDULER_TEAM_ID_FIELD = f"{__name__}.EvenOnlyField"
    assert team_id_field_class() is EvenOnlyField
    assert team_from_id(4) == {"team": 4}
    with pytest.raises(ValueError) as excinfo:
        team_from_id(3)
    assert str(excinfo.value) == "Odd. Try even."
