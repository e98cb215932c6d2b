"""Job-search domain services. MINIMAL until the domain issue (#4) lands: real sources replace these bodies."""

from __future__ import annotations

import logging

from scheduler_app.registry import InvalidJobParams
from scraping_app.models import Team

logger = logging.getLogger("scraping_app")


def scrape_params_validate(params: dict) -> dict:
    allowed = {"keyword", "location", "limit"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InvalidJobParams(f"Unknown parameter(s): {', '.join(unknown)}", {k: "unknown" for k in unknown})
    out = dict(params)
    try:
        out["limit"] = int(out.get("limit", 25))
    except (TypeError, ValueError):
        raise InvalidJobParams("limit must be an integer", {"limit": "must be an integer"}) from None
    if not 1 <= out["limit"] <= 100:
        raise InvalidJobParams("limit must be between 1 and 100", {"limit": "must be between 1 and 100"})
    return out


def scrape_run(*, keyword: str | None, location: str | None, limit: int, team=None) -> dict:
    logger.info("Starting scrape for %s in %s", keyword, location)
    logger.info("Scraping completed")
    return {"counts": {}, "postings": []}


def follow_ups_check(*, team=None) -> dict:
    return {"reminders": 0}


def automation_run(*, team=None) -> dict:
    return {"shortlisted": 0}


def demo_domain_seed(*, members: list) -> Team:
    """Team 1 with the demo users. (Sources are added by the domain issue.)"""
    team, _ = Team.objects.get_or_create(pk=1, defaults={"name": "Demo team"})
    team.members.add(*members)
    return team
