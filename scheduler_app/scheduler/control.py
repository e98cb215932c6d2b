"""Reload control messages: Redis pub/sub for speed, the definitions version in the database as the fallback.

A reload request bumps the database version first (every scheduler polls it each heartbeat), then publishes on
Redis so live schedulers reload at once. Either path alone is enough.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from scheduler_app.locks import topology

logger = logging.getLogger("scheduler_app")

CHANNEL = "scheduler:control"
RELOAD = "reload"


def _clients() -> list:
    return topology.channel_clients()


def reload_publish() -> int | None:
    """Number of schedulers that received the message, or None when Redis is unreachable. In quorum mode it is
    published on every master (each scheduler listens on one); on a cluster the count is the receiving node's."""
    received, reached, error = 0, 0, None
    for client in _clients():
        try:
            received += int(client.publish(CHANNEL, RELOAD))
            reached += 1
        except Exception as exc:  # noqa: BLE001 - the database version still carries the request
            error = exc
    if reached:
        return received
    logger.warning("Could not publish scheduler reload on Redis (%s); schedulers poll the database", error)
    return None


def _subscribe():
    """A subscription on the first channel client that answers (quorum mode: any one master carries it)."""
    error: Exception | None = None
    for client in _clients():
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(CHANNEL)
            return pubsub
        except Exception as exc:  # noqa: BLE001 - try the next master
            error = exc
            pubsub.close()
    raise error or ConnectionError("no Redis to subscribe on")


class ControlListener(threading.Thread):
    """Subscribes to the control channel and calls `on_reload` for each message; reconnects after outages."""

    def __init__(self, on_reload: Callable[[], None]):
        super().__init__(name="scheduler-control", daemon=True)
        self.on_reload = on_reload
        self.stopping = threading.Event()
        self.subscribed = threading.Event()

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        backoff = 2.0  # doubles while Redis stays down (to 60 s), so an outage is one warning, not a flood
        while not self.stopping.is_set():
            pubsub = None
            try:
                pubsub = _subscribe()
                if backoff > 2.0:
                    logger.info("Scheduler control channel back")
                backoff = 2.0
                self.subscribed.set()
                while not self.stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        self.on_reload()
            except Exception as exc:  # noqa: BLE001 - Redis down: the database poll covers it; retry later
                self.subscribed.clear()
                if backoff == 2.0:
                    logger.warning("Scheduler control channel unavailable (%s); reloads come from the database "
                                   "poll until Redis is back", exc)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 60.0)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:  # noqa: BLE001
                        pass
