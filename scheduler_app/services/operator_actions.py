"""The record of what operators do (who, when, what, the outcome): written by each operator service, read in the
admin's Operator actions list."""

from __future__ import annotations

import getpass
import logging

from django.db import DatabaseError

from scheduler_app.models import OperatorAction

logger = logging.getLogger("scheduler_app")


def operator_name(user, *, source: str = "") -> str:
    """The account's name; at a terminal (the CLI has no account), the operating-system user's."""
    name = getattr(user, "get_username", lambda: "")() or ""
    if not name and source == "cli":
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = ""
    return name


def operator_action_record(*, user, source: str, action: str, outcome: str, job_id: str = "",
                           run_id: int | None = None) -> OperatorAction | None:
    """One OperatorAction row, and the same as a log line. A record that cannot be written (the database is down)
    is logged, and the action it describes stands."""
    name = operator_name(user, source=source)
    logger.warning("Operator %s (%s) %s: %s", name or "?", source, action.replace("_", " "), outcome,
                   extra={"job_id": job_id or None, "run_id": run_id})
    try:
        return OperatorAction.objects.create(user=user if getattr(user, "pk", None) else None, username=name,
                                             source=source, action=action, job_id=job_id, run_id=run_id,
                                             outcome=outcome)
    except DatabaseError:
        logger.exception("Could not record the operator action %s of %s", action, name or "?")
        return None
