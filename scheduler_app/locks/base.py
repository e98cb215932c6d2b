"""The lock interface every backend implements, the holder it stores, and what it raises.

The lock decides who may start; it issues no fencing token. The fence is a number the database draws from the runs'
id sequence when a run starts, and the database checks it inside the writer's transaction (`scheduler_app.runs`,
`scheduler_app.context`).
"""

from __future__ import annotations

import json
import os
import socket
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

KEY_PREFIX = "job_lock:"
SIGNAL_PREFIX = "job_signal:"  # wake-ups; must not match KEYS job_lock:*

HOST = socket.gethostname()  # computed once: the holder value is built on every acquire
_HOST_JSON = json.dumps(HOST)


def key_job_id(key: str) -> str:
    """The job a lock key belongs to: the key without its `:team:<id>` suffix."""
    return key.split(":", 1)[0]


def lock_log_extra(key: str, run_id: int | None = None) -> dict:
    """`extra=` for a lock's own log lines: they are often logged outside the run's thread (renewal, release,
    fallback, an operator), where no job context names the run, and `?run_id=N` must still find them."""
    return {"job_id": key_job_id(key), "run_id": run_id}


@dataclass
class Holder:
    """Who holds a lock. Serialised as the Redis value so `GET job_lock:<key>` names the holder."""

    token: str
    run_id: int | None
    host: str
    pid: int
    acquired_at: float

    @classmethod
    def new(cls, *, run_id: int | None) -> Holder:
        return cls(token=os.urandom(16).hex(), run_id=run_id, host=HOST, pid=os.getpid(), acquired_at=time.time())

    def value(self) -> str:
        """The stored JSON, built by hand (this is on every acquire). It starts with the token, which the release
        and extend scripts compare as a prefix."""
        run_id = "null" if self.run_id is None else int(self.run_id)
        host = _HOST_JSON if self.host == HOST else json.dumps(self.host)
        return (
            f'{{"token":"{self.token}","run_id":{run_id},"host":{host},'
            f'"pid":{self.pid},"acquired_at":{self.acquired_at:.3f}}}'
        )

    @classmethod
    def parse(cls, raw: str | bytes | None) -> Holder | None:
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return cls(
                token=str(data["token"]),
                run_id=data.get("run_id"),
                host=str(data.get("host", "")),
                pid=int(data.get("pid", 0)),
                acquired_at=float(data.get("acquired_at", 0)),
            )
        except (ValueError, KeyError, TypeError):
            # A value we did not write (set by hand): still a holder, of unknown identity.
            text = raw.decode() if isinstance(raw, bytes) else str(raw)
            return cls(token=text[:64], run_id=None, host="?", pid=0, acquired_at=0)

    @classmethod
    def parse_dict(cls, data: dict | None) -> Holder | None:
        if not data:
            return None
        return cls(**{k: data.get(k) for k in ("token", "run_id", "host", "pid", "acquired_at")})

    def as_dict(self) -> dict:
        # by hand: dataclasses.asdict deep-copies every field, a cost the status page pays per held lock
        return {"token": self.token, "run_id": self.run_id, "host": self.host, "pid": self.pid,
                "acquired_at": self.acquired_at}


@dataclass
class LockState:
    """What `inspect`/`list` report about one key."""

    key: str
    holder: Holder | None
    ttl_seconds: float | None  # None: no TTL at all (a stale lock by definition)
    backend: str
    raw: str | bytes | None = None  # the stored value as read, for compare-and-delete
    extra: dict = field(default_factory=dict)

    @property
    def job_id(self) -> str:
        return key_job_id(self.key)

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "redis_key": KEY_PREFIX + self.key,
            "job_id": self.job_id,
            "holder": self.holder.as_dict() if self.holder else None,
            "ttl_seconds": None if self.ttl_seconds is None else round(self.ttl_seconds, 3),
            "backend": self.backend,
        }


class LockError(Exception):
    pass


class LockNotAcquired(LockError):
    """The lock is held by someone else. Carries the holder and the TTL left, for the refusal message."""

    def __init__(self, key: str, holder: Holder | None, ttl_seconds: float | None, message: str = ""):
        self.key = key
        self.holder = holder
        self.ttl_seconds = ttl_seconds
        super().__init__(message or f"Job is already running (lock {KEY_PREFIX}{key})")

    def as_dict(self) -> dict:
        return {
            "holder": self.holder.as_dict() if self.holder else None,
            "ttl_seconds": None if self.ttl_seconds is None else round(self.ttl_seconds, 3),
        }


class LockServiceUnavailable(LockError):
    """Redis is unreachable and LOCK_FALLBACK=fail: refuse rather than run unlocked."""


class BackendUnavailable(LockError):
    """A backend could not be reached (used internally to trigger the fallback)."""


class RenewResult:
    RENEWED = "renewed"
    RESTORED = "restored"  # the key was gone (Redis restarted, or the lease lapsed) and was set again for us
    HELD_BY_OTHER = "held_by_other"  # another token has the key; the database decides whether we still hold the run


class LockBackend(ABC):
    """One place locks live. Every method raises BackendUnavailable when the backend cannot be reached."""

    name: str

    @abstractmethod
    def acquire(self, key: str, holder: Holder, lease_seconds: float) -> tuple[bool, Holder | None, float | None]:
        """Try once: (True, holder, None), or (False, the current holder, its TTL left in seconds)."""

    @abstractmethod
    def release(self, key: str, holder: Holder) -> bool:
        """Owner-only delete, then wake the waiters. False when the key is not ours (deletes nothing)."""

    @abstractmethod
    def extend(self, key: str, holder: Holder, lease_seconds: float) -> str:
        """Owner-only renewal; sets the key again for us when it is gone. A RenewResult."""

    @abstractmethod
    def inspect(self, key: str) -> LockState | None: ...

    @abstractmethod
    def list(self) -> list[LockState]: ...

    @abstractmethod
    def force_release(self, key: str) -> bool:
        """Delete whoever holds it (an operator's decision)."""

    @abstractmethod
    def release_if_unchanged(self, state: LockState) -> bool:
        """Delete only the exact lock `state` describes (stale clean-up)."""

    @abstractmethod
    def release_listener(self, key: str):
        """Something whose `wait(timeout)` returns when the key is released; `close()` it after."""

    @abstractmethod
    def ping(self) -> bool: ...
