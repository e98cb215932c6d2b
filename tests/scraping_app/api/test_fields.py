"""TeamIdField: the one team-id validator, in a plain Serializer, with and without a request in the context."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from rest_framework import serializers

from scraping_app.api.fields import TeamIdField
from scraping_app.models import Team

pytestmark = pytest.mark.django_db

INVALID = "A valid integer is required."
UNKNOWN = "Unknown team."


class Form(serializers.Serializer):
    team_id = TeamIdField(required=False, allow_null=True, help_text="A team.")


def request_for(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


@pytest.fixture
def teams():
    User = get_user_model()
    member = User.objects.create(username="member")
    staff = User.objects.create(username="staff", is_staff=True)
    mine = Team.objects.create(name="Mine")
    mine.members.add(member)
    theirs = Team.objects.create(name="Theirs")
    return {"member": member, "staff": staff, "mine": mine, "theirs": theirs}


def errors(data, context=None) -> list[str]:
    form = Form(data=data, context=context or {})
    assert not form.is_valid()
    return [str(message) for message in form.errors["team_id"]]


@pytest.mark.parametrize("value", [True, False, 1.0, 1.5, "", "  ", "²", "١", "1.0", "1e3", " 1", "0x1", [1], {}])
def test_anything_but_an_int_or_decimal_digits_is_not_a_valid_integer(teams, value):
    assert errors({"team_id": value}) == [INVALID]


@pytest.mark.parametrize("value", [0, -1, "0", "-5", 2**63, str(2**63), 10**30])
def test_out_of_range_ids_name_no_team(teams, value):
    assert errors({"team_id": value}) == [UNKNOWN]


def test_an_int_or_a_digit_string_resolves_to_the_team_without_a_request(teams):
    for value in (teams["theirs"].pk, str(teams["theirs"].pk), f"00{teams['theirs'].pk}"):
        form = Form(data={"team_id": value})
        assert form.is_valid(), form.errors
        assert form.validated_data["team_id"] == teams["theirs"]
    assert errors({"team_id": teams["theirs"].pk + 100}) == [UNKNOWN]


def test_with_a_request_members_see_their_own_teams_and_staff_every_team(teams):
    member = {"request": request_for(teams["member"])}
    assert Form(data={"team_id": teams["mine"].pk}, context=member).is_valid()
    assert errors({"team_id": teams["theirs"].pk}, member) == [UNKNOWN]
    staff = Form(data={"team_id": teams["theirs"].pk}, context={"request": request_for(teams["staff"])})
    assert staff.is_valid() and staff.validated_data["team_id"] == teams["theirs"]
    assert errors({"team_id": teams["mine"].pk}, {"request": request_for(AnonymousUser())}) == [UNKNOWN]


def test_standard_field_arguments_work(teams):
    assert Form(data={}).is_valid()
    form = Form(data={"team_id": None})
    assert form.is_valid() and form.validated_data["team_id"] is None
    required = type("Required", (serializers.Serializer,), {"team_id": TeamIdField()})(data={})
    assert not required.is_valid() and required.errors["team_id"][0].code == "required"
    assert Form().fields["team_id"].help_text == "A team."


def test_renders_a_team_or_an_id_as_the_id(teams):
    field = TeamIdField()
    assert field.to_representation(teams["mine"]) == teams["mine"].pk
    assert field.to_representation(7) == 7
