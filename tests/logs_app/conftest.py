"""Fixtures for the logs tests: the configured database handler (buffer-only under pytest) and API clients."""

from __future__ import annotations

import logging

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from logs_app.handler import DatabaseLogHandler, database_handlers


@pytest.fixture
def db_handler() -> DatabaseLogHandler:
    """The handler LOGGING installed, emptied of what earlier tests logged."""
    handlers = [h for h in logging.getLogger("scheduler_app").handlers if isinstance(h, DatabaseLogHandler)]
    assert handlers and not handlers[0].background, "LOGGING installs the database handler, buffer-only under pytest"
    assert handlers[0] in database_handlers()
    handler = handlers[0]
    handler._pending.clear()
    return handler


def bearer(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def admin_api(db, django_user_model) -> APIClient:
    return bearer(django_user_model.objects.create_user("ops-admin", is_staff=True))


@pytest.fixture
def member_api(db, django_user_model) -> APIClient:
    return bearer(django_user_model.objects.create_user("ops-member"))
