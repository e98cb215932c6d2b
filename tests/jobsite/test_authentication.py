"""Brute-force protection: Bearer token guesses are throttled per client IP (jobsite.authentication), and the admin
login locks a (username, IP) out after AXES_FAILURE_LIMIT wrong passwords (django-axes)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from jobsite.throttles import AuthFailureThrottle
from scraping_app.services.demo import demo_data_seed
from tests.jobsite.test_throttles import set_rates

TEAMS = "/api/v1/teams/"
ATTACKER = "198.51.100.7"
OTHER = "192.0.2.44"


@pytest.fixture
def three_failures(settings):
    set_rates(settings, auth_failures="3/minute")


def get(token: str | None, ip: str = ATTACKER, **headers):
    client = APIClient(REMOTE_ADDR=ip)
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(TEAMS, **headers)


@pytest.fixture
def good_token(users):
    return Token.objects.create(user=users["member"]).key


# --- Bearer token failures -----------------------------------------------------------------------------------------

@pytest.mark.django_db
class TestTokenFailures:
    def test_429_after_the_limit_even_for_a_good_token_from_that_address(self, local_cache, three_failures,
                                                                         good_token):
        assert [get(f"bad-{n}").status_code for n in range(3)] == [401, 401, 401]
        refused = get("bad-3")
        assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
        assert refused.json()["detail"].startswith("Too many invalid tokens from this address.")
        # a right guess now would tell the guesser nothing
        assert get(good_token).status_code == 429

    def test_other_clients_keep_working(self, local_cache, three_failures, good_token):
        for n in range(4):
            get(f"bad-{n}")
        assert get("bad-4").status_code == 429
        assert get(good_token, ip=OTHER).status_code == 200
        assert get("bad-x", ip=OTHER).status_code == 401  # the other address has a count of its own

    def test_good_tokens_and_requests_without_a_token_are_not_counted(self, local_cache, three_failures,
                                                                     good_token):
        for _ in range(5):
            assert get(good_token).status_code == 200
            assert get(None).status_code == 401
        assert [get(f"bad-{n}").status_code for n in range(4)] == [401, 401, 401, 429]

    def test_a_malformed_header_counts_as_a_failure(self, local_cache, three_failures):
        client = APIClient(REMOTE_ADDR=ATTACKER)
        codes = [client.get(TEAMS, HTTP_AUTHORIZATION=header).status_code
                 for header in ("Bearer", "Bearer a b", "Bearer \u00e9", "Bearer ok")]
        assert codes == [401, 401, 401, 429]

    def test_a_client_sent_forwarded_for_does_not_reset_the_count(self, local_cache, three_failures):
        codes = [get(f"bad-{n}", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(4)]
        assert codes == [401, 401, 401, 429]

    def test_the_refusal_ends_with_its_window(self, local_cache, three_failures, good_token, monkeypatch):
        now = [60 * 16_666.0]  # the start of a one-minute window
        monkeypatch.setattr(AuthFailureThrottle, "timer", staticmethod(lambda: now[0]))
        for n in range(3):
            get(f"bad-{n}")
        refused = get(good_token)
        assert refused.status_code == 429 and refused["Retry-After"] == "60"
        now[0] += 59.5
        assert get(good_token).status_code == 429
        now[0] += 0.5
        assert get(good_token).status_code == 200

    def test_a_cache_outage_lets_requests_through_without_a_500(self, settings, three_failures, good_token):
        settings.CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache",
                                       "LOCATION": "redis://127.0.0.1:1/0",
                                       "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2}}}
        assert {get(f"bad-{n}").status_code for n in range(6)} == {401}
        assert get(good_token).status_code == 200

    def test_counts_in_redis(self, real_redis, three_failures, good_token):
        """The default cache, django-redis at REDIS_URL: add + atomic INCR, the key expiring with its window."""
        assert [get(f"bad-{n}").status_code for n in range(4)] == [401, 401, 401, 429]
        keys = [key.decode() for key in real_redis.keys("*throttle_auth_failures_*")]
        assert len(keys) == 1 and ATTACKER in keys[0]
        assert 0 < real_redis.ttl(keys[0]) <= 61
        assert get(good_token, ip=OTHER).status_code == 200

    def test_the_default_limit_is_twenty_a_minute(self, local_cache, good_token):
        codes = [get(f"bad-{n}").status_code for n in range(21)]
        assert codes == [401] * 20 + [429]


# --- The admin login (django-axes) ----------------------------------------------------------------------------------

def admin_login(client, username: str, password: str):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


@pytest.fixture
def lockout_after_three(settings):
    settings.AXES_FAILURE_LIMIT = 3


@pytest.fixture
def staff(django_user_model):
    boss = django_user_model.objects.create_user("boss", password="right-Password-1", is_staff=True)
    ops = django_user_model.objects.create_user("ops", password="ops-Password-2", is_staff=True)
    return boss, ops


@pytest.mark.django_db
class TestAdminLockout:
    def test_locks_out_after_the_limit_even_with_the_right_password(self, client, lockout_after_three, staff):
        wrong = [admin_login(client, "boss", f"wrong-{n}").status_code for n in range(3)]
        assert wrong[:2] == [200, 200]  # the login form again, with its error
        assert wrong[2] == 429  # the third failure is the limit
        locked = admin_login(client, "boss", "right-Password-1")
        assert locked.status_code == 429
        assert "_auth_user_id" not in client.session

    def test_other_users_and_other_addresses_still_log_in(self, client, lockout_after_three, staff):
        for n in range(3):
            admin_login(client, "boss", f"wrong-{n}")
        assert admin_login(client, "boss", "right-Password-1").status_code == 429
        from django.test import Client

        other_user = admin_login(Client(), "ops", "ops-Password-2")
        assert other_user.status_code == 302 and other_user["Location"] == "/admin/"
        other_address = admin_login(Client(REMOTE_ADDR="192.0.2.99"), "boss", "right-Password-1")
        assert other_address.status_code == 302

    def test_a_success_before_the_limit_resets_the_count(self, client, lockout_after_three, staff):
        from django.test import Client

        for n in range(2):
            admin_login(Client(), "boss", f"wrong-{n}")
        assert admin_login(Client(), "boss", "right-Password-1").status_code == 302
        assert [admin_login(Client(), "boss", f"again-{n}").status_code for n in range(2)] == [200, 200]

    def test_axes_reset_lifts_a_lockout(self, client, lockout_after_three, staff):
        for n in range(3):
            admin_login(client, "boss", f"wrong-{n}")
        assert admin_login(client, "boss", "right-Password-1").status_code == 429
        call_command("axes_reset")
        assert admin_login(client, "boss", "right-Password-1").status_code == 302

    def test_the_demo_admin_logs_in_with_its_demo_password(self, client):
        """seed_demo sets admin/admin directly (validators apply to forms and commands, not set_password)."""
        demo_data_seed()
        response = admin_login(client, "admin", "admin")
        assert response.status_code == 302 and response["Location"] == "/admin/"
