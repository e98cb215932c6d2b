"""The project-wide "user" throttle: every API view applies the configured rate, per user, and lets requests
through when its cache (Redis) is down."""

from __future__ import annotations

import pytest
from rest_framework.settings import api_settings

from jobsite.throttles import UserRateThrottle, client_ip

TEAMS = "/api/v1/teams/"
STATUS = "/api/v1/scheduler/status"


def set_rates(settings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates}}


def test_every_view_gets_the_user_throttle_by_default():
    assert api_settings.DEFAULT_THROTTLE_CLASSES == [UserRateThrottle]
    assert "user" in api_settings.DEFAULT_THROTTLE_RATES


@pytest.mark.django_db
def test_the_user_rate_applies_per_user(local_cache, settings, member_api, staff_api):
    set_rates(settings, user="3/minute")
    codes = [member_api.get(TEAMS).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = member_api.get(TEAMS)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert staff_api.get(TEAMS).status_code == 200  # another user has a count of their own


@pytest.mark.django_db
def test_the_scheduler_api_is_throttled_too(local_cache, fake_redis, settings, staff_api):
    set_rates(settings, user="2/minute")
    assert [staff_api.get(STATUS).status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.django_db
def test_the_rate_is_read_per_request(local_cache, settings, member_api):
    set_rates(settings, user="1/minute")
    assert [member_api.get(TEAMS).status_code for _ in range(2)] == [200, 429]
    set_rates(settings, user="1000/hour")
    assert member_api.get(TEAMS).status_code == 200


@pytest.mark.django_db
def test_the_throttle_lets_requests_through_when_its_cache_is_down(settings, member_api):
    settings.CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
                                   "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2}}}
    set_rates(settings, user="1/minute")
    assert [member_api.get(TEAMS).status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.django_db
def test_the_user_rate_counts_in_redis(real_redis, settings, member_api):
    """The default cache, django-redis at REDIS_URL, as in production."""
    set_rates(settings, user="2/minute")
    assert [member_api.get(TEAMS).status_code for _ in range(3)] == [200, 200, 429]


def test_client_ip_ignores_a_client_sent_forwarded_for(rf, settings):
    request = rf.get("/", REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert client_ip(request) == "192.0.2.10"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert client_ip(request) == "203.0.113.9"
