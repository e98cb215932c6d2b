"""Writes for the team-owned records the API edits: saved searches, applications, automation rules.

Serializers validate (including that the team is one of the caller's); these only write.
"""

from __future__ import annotations

from typing import Any

from django.db import models, transaction

from scraping_app.models import AutomationRule, JobApplication, JobSource, SavedSearch


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


def saved_search_create(*, data: dict[str, Any]) -> SavedSearch:
    data = dict(data)
    sources: list[JobSource] = data.pop("sources", [])
    with transaction.atomic():
        search = SavedSearch.objects.create(**data)
        search.sources.set(sources)
    return search


def saved_search_update(*, saved_search: SavedSearch, data: dict[str, Any]) -> SavedSearch:
    return _team_record_update(saved_search, data, m2m=("sources",))


def job_application_create(*, data: dict[str, Any]) -> JobApplication:
    return JobApplication.objects.create(**data)


def job_application_update(*, application: JobApplication, data: dict[str, Any]) -> JobApplication:
    return _team_record_update(application, data)


def automation_rule_create(*, data: dict[str, Any]) -> AutomationRule:
    return AutomationRule.objects.create(**data)


def automation_rule_update(*, rule: AutomationRule, data: dict[str, Any]) -> AutomationRule:
    return _team_record_update(rule, data)


def team_record_delete(*, instance: SavedSearch | JobApplication | AutomationRule) -> None:
    instance.delete()
