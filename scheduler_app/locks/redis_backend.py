"""Redis backend: SET NX PX in one script; owner-only release and extend by Lua. Each script touches one key."""

from __future__ import annotations

import hashlib

import redis

from scheduler_app.locks.base import (
    KEY_PREFIX,
    SIGNAL_PREFIX,
    BackendUnavailable,
    Holder,
    LockBackend,
    LockState,
    RenewResult,
)

# One round trip: take the key, or refuse with the holder and its TTL.
ACQUIRE = """
local v = redis.call('GET', KEYS[1])
if v then return {0, v, redis.call('PTTL', KEYS[1])} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1}
"""

# Compare-and-delete on the token, then wake the waiters. 1 released, 0 absent, -1 someone else's.
# The wake-up is a PUBLISH on job_signal:<key> (a channel, passed as an argument, not a key): free when nobody
# waits, and it leaves no key behind.
RELEASE = """
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local p = '{"token":"' .. ARGV[1] .. '"'
if string.sub(v, 1, #p) ~= p then return -1 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], '1')
return 1
"""

# Compare-and-pexpire. A key that is gone (Redis restarted empty, or the lease lapsed while nobody took it) is set
# again with our own value: the database has already confirmed that our run is still the key's holder.
# 1 renewed, 2 restored, 0 held by another token.
EXTEND = """
local v = redis.call('GET', KEYS[1])
if v then
  local p = '{"token":"' .. ARGV[1] .. '"'
  if string.sub(v, 1, #p) == p then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
  end
  return 0
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
return 2
"""

# Compare-and-delete on the whole value: stale clean-up removes exactly the lock it judged, never a new holder's.
DELETE_IF_UNCHANGED = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], '1')
  return 1
end
return 0
"""

# An operator's delete, whoever holds it, and the wake-up, in one script (one key, so it works on a cluster too).
FORCE_DELETE = """
local n = redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], '1')
return n
"""

# ClusterDownError and friends: a cluster that lost a slot's master is an outage like any other.
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.ClusterDownError,
                redis.exceptions.SlotNotCoveredError, redis.exceptions.TryAgainError, OSError)


class LuaScript:
    """EVALSHA straight through `execute_command` (redis-py's Script wrapper costs more than the server's work on
    the hot path); loads the script once on NOSCRIPT, e.g. after a Redis restart."""

    def __init__(self, client: redis.Redis, source: str):
        self.client = client
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def __call__(self, keys: list[str], args: list):
        try:
            return self.client.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            self.sha = self.client.script_load(self.source)
            return self.client.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)


class RedisLockBackend(LockBackend):
    name = "redis"

    def __init__(self, client: redis.Redis, *, blocking_chunk_seconds: float = 1.0):
        self.client = client
        # A wait on the wake-up channel must return before the client's socket timeout fires, so long waits are
        # split into chunks of this length.
        self.blocking_chunk_seconds = blocking_chunk_seconds
        self._acquire = LuaScript(client, ACQUIRE)
        self._release = LuaScript(client, RELEASE)
        self._extend = LuaScript(client, EXTEND)
        self._delete_if_unchanged = LuaScript(client, DELETE_IF_UNCHANGED)
        self._force_delete = LuaScript(client, FORCE_DELETE)

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except REDIS_ERRORS as exc:
            raise BackendUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def acquire(self, key: str, holder: Holder, lease_seconds: float) -> tuple[bool, Holder | None, float | None]:
        reply = self._call(self._acquire, keys=[KEY_PREFIX + key],
                           args=[holder.value(), max(1, int(lease_seconds * 1000))])
        if reply[0] == 1:
            return True, holder, None
        pttl = int(reply[2])
        return False, Holder.parse(reply[1]), (None if pttl < 0 else pttl / 1000)

    def release(self, key: str, holder: Holder) -> bool:
        reply = self._call(self._release, keys=[KEY_PREFIX + key], args=[holder.token, SIGNAL_PREFIX + key])
        return int(reply) == 1

    def extend(self, key: str, holder: Holder, lease_seconds: float) -> str:
        reply = int(self._call(self._extend, keys=[KEY_PREFIX + key],
                               args=[holder.token, max(1, int(lease_seconds * 1000)), holder.value()]))
        return {1: RenewResult.RENEWED, 2: RenewResult.RESTORED}.get(reply, RenewResult.HELD_BY_OTHER)

    def inspect(self, key: str) -> LockState | None:
        pipe = self.client.pipeline(transaction=False)
        pipe.get(KEY_PREFIX + key)
        pipe.pttl(KEY_PREFIX + key)
        raw, pttl = self._call(pipe.execute)
        if raw is None:
            return None
        return LockState(key=key, holder=Holder.parse(raw), ttl_seconds=None if pttl < 0 else pttl / 1000,
                         backend=self.name, raw=raw)

    def list(self) -> list[LockState]:
        keys = sorted(self._call(lambda: list(self.client.scan_iter(match=KEY_PREFIX + "*", count=500))))
        if not keys:
            return []
        pipe = self.client.pipeline(transaction=False)
        for k in keys:
            pipe.get(k)
            pipe.pttl(k)
        replies = self._call(pipe.execute)
        states = []
        for i, k in enumerate(keys):
            raw, pttl = replies[2 * i], replies[2 * i + 1]
            if raw is None:
                continue  # expired between SCAN and GET
            name = (k.decode() if isinstance(k, bytes) else k)[len(KEY_PREFIX):]
            states.append(LockState(key=name, holder=Holder.parse(raw),
                                    ttl_seconds=None if pttl < 0 else pttl / 1000, backend=self.name, raw=raw))
        return states

    def force_release(self, key: str) -> bool:
        return bool(self._call(self._force_delete, keys=[KEY_PREFIX + key], args=[SIGNAL_PREFIX + key]))

    def release_if_unchanged(self, state: LockState) -> bool:
        """Delete only if the key still holds the value `state` was read with."""
        return bool(self._call(self._delete_if_unchanged, keys=[KEY_PREFIX + state.key],
                               args=[state.raw, SIGNAL_PREFIX + state.key]))

    def release_listener(self, key: str) -> ReleaseListener:
        """Subscribe to the key's wake-ups. The caller tries once more after subscribing, so no release is missed."""
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            self._call(pubsub.subscribe, SIGNAL_PREFIX + key)
        except BackendUnavailable:
            pubsub.close()
            raise
        return ReleaseListener(self, pubsub)

    def ping(self) -> bool:
        return bool(self._call(self.client.ping))


class ReleaseListener:
    """A waiter's subscription to `job_signal:<key>`: `wait` returns when the holder releases (or at the timeout)."""

    def __init__(self, backend: RedisLockBackend, pubsub) -> None:
        self.backend = backend
        self.pubsub = pubsub

    def wait(self, timeout: float) -> None:
        if timeout > 0:
            self.backend._call(self.pubsub.get_message, timeout=min(timeout, self.backend.blocking_chunk_seconds))

    def close(self) -> None:
        try:
            self.pubsub.close()
        except REDIS_ERRORS:
            pass
