import pytest
from django.core.cache import cache


@pytest.fixture
def local_cache(settings):
    """An in-process cache for the throttles' counts: each test starts from zero, apart from any Redis."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "jobsite-throttle-tests"}}
    cache.clear()
