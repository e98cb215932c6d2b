"""System checks (shown by `migrate`, `runserver` and `check`): say loudly when the locks run without Redis."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning, register

from scheduler_app import locks
from scheduler_app.locks import topology


@register("scheduler")
def lock_backend_check(app_configs=None, **kwargs) -> list[Warning]:
    if locks.redis_available():
        return []
    if settings.LOCK_FALLBACK == "database":
        consequence = "execution locks use the database lease (LOCK_FALLBACK=database)"
    else:
        consequence = "every run is refused until Redis answers (LOCK_FALLBACK=fail)"
    return [Warning(f"Redis is not reachable at {topology.describe()}; {consequence}.",
                    hint="Start Redis (or set REDIS_URL / REDIS_MODE) for the primary lock backend.",
                    id="scheduler_app.W001")]
