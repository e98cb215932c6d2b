"""The lock interface shared by both backends, and what it raises."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Protocol

KEY_PREFIX = "job_lock:"
FENCE_PREFIX = "job_fence:"  # must not match KEYS job_lock:*
SIGNAL_PREFIX = "job_signal:"

HOST = socket.gethostname()  # computed once: the holder value is built on every acquire
_HOST_JSON = json.dumps(HOST)


@dataclass
class Holder:
    """Who holds a lock. Serialised as the Redis value so `GET job_lock:<key>` names the holder."""

    token: str
    run_id: int | None
    host: str
    pid: int
    acquired_at: float
    fence: int | None = None

    @classmethod
    def new(cls, *, run_id: int | None) -> Holder:
        return cls(token=os.urandom(16).hex(), run_id=run_id, host=HOST, pid=os.getpid(), acquired_at=time.time())

    def value_prefix(self) -> str:
        """The JSON value up to the fence number, which the acquire script appends (it is issued there)."""
        run_id = "null" if self.run_id is None else int(self.run_id)
        host = _HOST_JSON if self.host == HOST else json.dumps(self.host)
        return (
            f'{{"token":"{self.token}","run_id":{run_id},"host":{host},'
            f'"pid":{self.pid},"acquired_at":{self.acquired_at:.3f},"fence":'
        )

    def value(self) -> str:
        return f"{self.value_prefix()}{json.dumps(self.fence)}}}"

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
                fence=data.get("fence"),
            )
        except (ValueError, KeyError, TypeError):
            # A value we did not write (set by hand): still a holder, of unknown identity.
            text = raw.decode() if isinstance(raw, bytes) else str(raw)
            return cls(token=text[:64], run_id=None, host="?", pid=0, acquired_at=0)

    @classmethod
    def parse_dict(cls, data: dict | None) -> Holder | None:
        if not data:
            return None
        return cls(**{k: data.get(k) for k in ("token", "run_id", "host", "pid", "acquired_at", "fence")})

    def as_dict(self) -> dict:
        # by hand: dataclasses.asdict deep-copies every field, a cost the status page pays per held lock
        return {"token": self.token, "run_id": self.run_id, "host": self.host, "pid": self.pid,
                "acquired_at": self.acquired_at, "fence": self.fence}


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
        return self.key.split(":", 1)[0]

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
    RESTORED = "restored"  # key was gone (Redis restarted) and was set again with our token
    LOST = "lost"  # someone else holds it, or a newer holder came and went


class LockBackend(Protocol):
    name: str

    def acquire(self, key: str, holder: Holder, lease_seconds: float) -> tuple[bool, Holder | None, float | None]:
        """Try once. (True, holder-with-fence, None) or (False, current holder, its TTL left)."""

    def release(self, key: str, holder: Holder) -> bool: ...

    def extend(self, key: str, holder: Holder, lease_seconds: float) -> str: ...

    def inspect(self, key: str) -> LockState | None: ...

    def list(self) -> list[LockState]: ...

    def force_release(self, key: str) -> bool: ...

    def release_listener(self, key: str):
        """Something whose `wait(timeout)` returns when the key's holder releases; `close()` it after."""

    def current_fence(self, key: str) -> int | None: ...
