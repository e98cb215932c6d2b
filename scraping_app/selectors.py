from __future__ import annotations

from scraping_app.models import Team


def team_get(*, team_id: int) -> Team | None:
    return Team.objects.filter(pk=team_id).first()
