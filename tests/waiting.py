"""Wait for a condition instead of sleeping and hoping: poll until it holds, or fail with what was awaited."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05,
             message: str = "condition") -> T:
    """Poll `predicate` until it returns something truthy and return that; AssertionError after `timeout` s.

    Deadlines are generous on purpose: they only bound a failing test, a passing one returns as soon as the
    condition holds, so a busy machine costs time, not a false failure.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {message}")
        time.sleep(interval)
