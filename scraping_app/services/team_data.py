"""Writes for the team-owned records the API edits: saved searches, automation rules (applications:
services/applications.py), and the delete they share.

Serializers validate (including that the team is one of the caller's); these write, and keep the one rule that
needs the database: a team keeps at most SAVED_SEARCHES_PER_TEAM_MAX saved searches.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.transaction import TransactionManagementError

from scraping_app import selectors
from scraping_app.models import AutomationRule, JobApplication, JobSource, SavedSearch, Team


def _team_record_update(instance: models.Model, data: dict[str, Any], *,
                        m2m: tuple[str, ...] = ()) -> models.Model:
    with transaction.atomic():
        for name, value in data.items():
            if name not in m2m:
                setattr(instance, name, value)
        instance.full_clean(validate_unique=False, validate_constraints=False)
        instance.save()
        for name in m2m:
            if name in data:
                getattr(instance, name).set(data[name])
    return instance


class SavedSearchCapReached(ValidationError):
    """The team holds SAVED_SEARCHES_PER_TEAM_MAX saved searches already: a form error in the admin, a 409 in
    the API (the request is well formed; the team's state refuses it)."""


def saved_search_team_cap_check(*, team: Team, saved_search: SavedSearch | None = None) -> None:
    """The one cap rule: raise ValidationError({"team": [...]}) when `team` may not take one more saved search.

    `saved_search` is the search being edited (None for a new one); a search that stays in its team is never
    refused, so lowering the cap never blocks edits. Counts every search of the team, active or not.

    Call it inside the transaction that then writes the search: it locks the team's row (SELECT ... FOR UPDATE on
    PostgreSQL; SQLite's IMMEDIATE transactions already serialize writers), so a concurrent create for the same
    team waits for that transaction and then counts the new row.
    """
    if saved_search is not None and saved_search.pk is not None and saved_search.team_id == team.pk:
        return
    if not transaction.get_connection().in_atomic_block:
        raise TransactionManagementError("saved_search_team_cap_check must run inside transaction.atomic()")
    cap = settings.SAVED_SEARCHES_PER_TEAM_MAX
    list(Team.objects.select_for_update().filter(pk=team.pk).values_list("pk", flat=True))
    count = selectors.saved_searches_count(team=team)
    if count >= cap:
        raise SavedSearchCapReached({"team": [
            f"A team may keep at most {cap} saved searches (SAVED_SEARCHES_PER_TEAM_MAX); this team has {count}. "
            f"Delete one before adding another."]})


def saved_search_create(*, data: dict[str, Any]) -> SavedSearch:
    data = dict(data)
    sources: list[JobSource] = data.pop("sources", [])
    with transaction.atomic():
        saved_search_team_cap_check(team=data["team"])
        search = SavedSearch.objects.create(**data)
        search.sources.set(sources)
    return search


def saved_search_update(*, saved_search: SavedSearch, data: dict[str, Any]) -> SavedSearch:
    """Moving a search to another team counts against that team's cap."""
    with transaction.atomic():
        if "team" in data:
            saved_search_team_cap_check(team=data["team"], saved_search=saved_search)
        return _team_record_update(saved_search, data, m2m=("sources",))


def automation_rule_create(*, data: dict[str, Any]) -> AutomationRule:
    return AutomationRule.objects.create(**data)


def automation_rule_update(*, rule: AutomationRule, data: dict[str, Any]) -> AutomationRule:
    return _team_record_update(rule, data)


def team_record_delete(*, instance: SavedSearch | JobApplication | AutomationRule) -> None:
    instance.delete()
