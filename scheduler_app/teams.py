"""Teams, as the scheduler sees them. A run may belong to a team (its per-team lock key, its saved searches), but the
team model and the rule for which teams a user may name belong to the domain app. The setting
SCHEDULER_TEAM_ID_FIELD names the DRF field that turns a team id into a team, so the API and runjob validate team
ids exactly as the rest of the project does, and the scheduler imports no other app."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string
from rest_framework import serializers


def team_id_field_class() -> type[serializers.Field]:
    return import_string(settings.SCHEDULER_TEAM_ID_FIELD)


def team_from_id(team_id: int | str):
    """The team with this id, for an operator at the terminal (any team). Raises ValueError with the field's message
    for an invalid or unknown id."""
    try:
        return team_id_field_class()().run_validation(team_id)
    except serializers.ValidationError as exc:
        raise ValueError(" ".join(str(message) for message in exc.detail)) from None
