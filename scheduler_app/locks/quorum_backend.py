"""Quorum backend: Redlock as published on redis.io, over N independent masters, with the Redis backend's scripts.

A lock is held when a majority (N//2+1) of the masters carry our token and the time the acquisition took, plus a
clock-drift allowance, still leaves some of the lease (the validity). Release, force-release and stale clean-up go
to every master; renewal keeps a majority. Each master runs the same one-key scripts as the single-Redis backend, so
the owner-only release and extend are unchanged. Fencing stays in the database: Redlock alone is not safe against a
paused holder, and it need not be, because the database refuses a stale holder's writes (invariant 9).

Outcomes, with M = N//2+1 masters needed:
- acquire: ours on >= M within the validity -> held. Otherwise our copies are deleted on every master (owner-only),
  and the answer is a refusal naming the holder seen on the most masters, or BackendUnavailable when nobody else
  holds it (too few masters answered, or they answered too slowly), which makes FallbackLock use the database lease.
- extend (see `extend`): ours on >= M -> RENEWED/RESTORED; fewer than M answering -> BackendUnavailable; otherwise
  HELD_BY_OTHER (the renewal thread then lets the database decide).
- reads (inspect, list, ping) need M answers; writes that only remove (release, force_release, release_if_unchanged)
  need one.

Acquire, release and extend write to every master before reading any reply, so the round trips overlap. A master
that is down costs a refused connection; one that hangs (paused, a dropped link) costs the clients' socket timeout
(REDIS_SOCKET_TIMEOUT) per call, which is why that timeout must stay well under the lease: the time is subtracted
from the validity.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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
from scheduler_app.locks.redis_backend import (
    ACQUIRE,
    DELETE_IF_UNCHANGED,
    EXTEND,
    FORCE_DELETE,
    REDIS_ERRORS,
    RELEASE,
    LuaScript,
)

DRIFT_FLOOR_SECONDS = 0.002  # Redlock's fixed part of the clock-drift allowance (2 ms)
POLL_SLICE_SECONDS = 0.01  # only for clients without a real socket (fakeredis): listeners poll in slices


def redacted_url(client: redis.Redis) -> str:
    """The master's address as `redis://host:port/db`, built from its connection settings: never a password."""
    kw = client.connection_pool.connection_kwargs
    if kw.get("path"):
        return f"unix://{kw['path']}?db={kw.get('db', 0)}"
    scheme = "rediss" if kw.get("ssl") or "ssl_keyfile" in kw else "redis"
    return f"{scheme}://{kw.get('host', 'localhost')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"


@dataclass
class _Master:
    client: redis.Redis
    url: str
    acquire: LuaScript
    release: LuaScript
    extend: LuaScript
    delete_if_unchanged: LuaScript
    force_delete: LuaScript

    @classmethod
    def build(cls, client: redis.Redis) -> _Master:
        return cls(client=client, url=redacted_url(client), acquire=LuaScript(client, ACQUIRE),
                   release=LuaScript(client, RELEASE), extend=LuaScript(client, EXTEND),
                   delete_if_unchanged=LuaScript(client, DELETE_IF_UNCHANGED),
                   force_delete=LuaScript(client, FORCE_DELETE))


@dataclass
class _Copies:
    """One holder's copies of a key, across masters."""

    raw: str | bytes
    masters: list[str] = field(default_factory=list)
    pttls: list[int] = field(default_factory=list)

    @property
    def ttl_seconds(self) -> float | None:
        """The smallest TTL among the copies (None if any copy has none: a stale lock by definition)."""
        if any(p < 0 for p in self.pttls):
            return None
        return min(self.pttls) / 1000


def _most_seen(copies: dict) -> _Copies | None:
    return max(copies.values(), key=lambda c: len(c.masters), default=None)


class QuorumLockBackend(LockBackend):
    name = "quorum"

    def __init__(self, clients: list, *, blocking_chunk_seconds: float = 1.0, drift_factor: float = 0.01,
                 clock: Callable[[], float] = time.monotonic):
        if not clients:
            raise ValueError("the quorum lock needs at least one Redis master (LOCK_REDIS_URLS)")
        self.masters = [_Master.build(c) for c in clients]
        self.quorum = len(self.masters) // 2 + 1
        self.blocking_chunk_seconds = blocking_chunk_seconds
        self.drift_factor = drift_factor
        self.clock = clock  # tests stand in a slow clock to play a slow acquisition

    # --- helpers -------------------------------------------------------------------------------------------------

    def _validity(self, lease_seconds: float, started: float) -> float:
        drift = lease_seconds * self.drift_factor + DRIFT_FLOOR_SECONDS
        return lease_seconds - (self.clock() - started) - drift

    def _unavailable(self, what: str, answered: int, errors: list[str]) -> BackendUnavailable:
        detail = "; ".join(errors) or "no error"
        return BackendUnavailable(f"{what}: {answered} of {len(self.masters)} Redis masters answered, "
                                  f"{self.quorum} needed ({detail})")

    def _each(self, call: Callable[[_Master], object]) -> tuple[list[tuple[_Master, object]], list[str]]:
        """`call` on every master in turn: the answers of those that answered, and the others' errors."""
        answers, errors = [], []
        for master in self.masters:
            try:
                answers.append((master, call(master)))
            except REDIS_ERRORS as exc:
                errors.append(f"{master.url}: {type(exc).__name__}: {exc}")
        return answers, errors

    def _fanout(self, script: str, keys: list[str], args: list,
                masters: list[_Master] | None = None) -> list[tuple[_Master, object]]:
        """Run one of the scripts on every master with the round trips overlapped: the command is written to each
        master first, then the replies are read. Each answer is the reply, or the REDIS_ERRORS exception of a master
        that did not answer. (One sequential call per master when its script must be loaded again.)"""
        sent, answers = [], {}
        for master in masters if masters is not None else self.masters:
            lua: LuaScript = getattr(master, script)
            pool = master.client.connection_pool
            conn = None
            try:
                conn = pool.get_connection()
                conn.send_command("EVALSHA", lua.sha, len(keys), *keys, *args)
                sent.append((master, conn, lua))
            except REDIS_ERRORS as exc:
                answers[id(master)] = (master, exc)
                if conn is not None:
                    conn.disconnect()
                    pool.release(conn)
        failure: Exception | None = None
        for master, conn, lua in sent:
            pool = master.client.connection_pool
            try:
                reply: object = conn.read_response()
            except redis.exceptions.NoScriptError:
                pool.release(conn)
                conn = None
                try:
                    reply = lua(keys, args)  # loads it (a restarted master), then runs it
                except REDIS_ERRORS as exc:
                    reply = exc
            except REDIS_ERRORS as exc:
                conn.disconnect()
                reply = exc
            except redis.exceptions.RedisError as exc:  # a reply error: a bug, raised once every reply is read
                failure = failure or exc
                reply = exc
            if conn is not None:
                pool.release(conn)
            answers[id(master)] = (master, reply)
        if failure is not None:
            raise failure
        return [answers[id(m)] for m in (masters if masters is not None else self.masters) if id(m) in answers]

    @staticmethod
    def _split(answers: list[tuple[_Master, object]]) -> tuple[list[tuple[_Master, object]], list[str]]:
        ok = [(m, r) for m, r in answers if not isinstance(r, Exception)]
        errors = [f"{m.url}: {type(r).__name__}: {r}" for m, r in answers if isinstance(r, Exception)]
        return ok, errors

    def _release_ours(self, key: str, holder: Holder, masters: list[_Master]) -> None:
        # An unreachable master's copy, if the SET got there, expires within the lease.
        if masters:
            self._fanout("release", [KEY_PREFIX + key], [holder.token, SIGNAL_PREFIX + key], masters)

    # --- LockBackend ---------------------------------------------------------------------------------------------

    def acquire(self, key: str, holder: Holder, lease_seconds: float) -> tuple[bool, Holder | None, float | None]:
        px = max(1, int(lease_seconds * 1000))
        value = holder.value()
        started = self.clock()
        taken: list[_Master] = []
        unreachable: list[_Master] = []
        others: dict[str | bytes, _Copies] = {}
        errors: list[str] = []
        for master, reply in self._fanout("acquire", [KEY_PREFIX + key], [value, px]):
            if isinstance(reply, Exception):
                unreachable.append(master)
                errors.append(f"{master.url}: {type(reply).__name__}: {reply}")
                continue
            if reply[0] == 1:
                taken.append(master)
            else:
                copies = others.setdefault(reply[1], _Copies(raw=reply[1]))
                copies.masters.append(master.url)
                copies.pttls.append(int(reply[2]))
        validity = self._validity(lease_seconds, started)
        if len(taken) >= self.quorum and validity > 0:
            return True, holder, None
        # Not held: undo on every master we may have written to (an unreachable one may have applied the SET before
        # its reply was lost), so that nothing of ours is left to block the others.
        self._release_ours(key, holder, taken + unreachable)
        seen = _most_seen(others)
        if seen is not None:
            return False, Holder.parse(seen.raw), seen.ttl_seconds
        if len(taken) >= self.quorum:
            raise BackendUnavailable(f"quorum acquire of {key} took longer than its validity "
                                     f"({lease_seconds:g} s lease, {validity * 1000:.1f} ms left)")
        raise self._unavailable(f"quorum acquire of {key}", len(self.masters) - len(unreachable), errors)

    def release(self, key: str, holder: Holder) -> bool:
        answers, errors = self._split(self._fanout("release", [KEY_PREFIX + key],
                                                   [holder.token, SIGNAL_PREFIX + key]))
        if not answers:
            raise self._unavailable(f"quorum release of {key}", 0, errors)
        return any(int(reply) == 1 for _m, reply in answers)

    def extend(self, key: str, holder: Holder, lease_seconds: float) -> str:
        """Owner-only extend on every master (a master that lost the key, e.g. restarted empty, gets it back).

        The rule: ours on a majority (renewed or restored there) within the validity -> RESTORED if any master was
        restored, else RENEWED. Fewer than a majority answering, or answering too slowly for the extension to count
        -> BackendUnavailable: the run goes on under its database heartbeat, as with a single Redis that is down.
        Otherwise a majority answered and another token holds enough of them that we have no majority ->
        HELD_BY_OTHER, which the renewal thread settles with the database: a lease with a run still named RUNNING
        keeps going (and keeps its copies, to win the majority back when the other holder's lapse), one without a
        run is lost and released. Our copies are not undone here: they cannot give us the lock without a majority.
        """
        px = max(1, int(lease_seconds * 1000))
        started = self.clock()
        answers, errors = self._split(self._fanout("extend", [KEY_PREFIX + key], [holder.token, px, holder.value()]))
        ours = [int(reply) for _m, reply in answers if int(reply) in (1, 2)]
        if len(ours) >= self.quorum:
            if self._validity(lease_seconds, started) <= 0:
                raise BackendUnavailable(f"quorum extend of {key} took longer than its validity")
            return RenewResult.RESTORED if 2 in ours else RenewResult.RENEWED
        if len(answers) < self.quorum:
            raise self._unavailable(f"quorum extend of {key}", len(answers), errors)
        return RenewResult.HELD_BY_OTHER

    def _read(self, master: _Master, names: list[str]) -> list:
        pipe = master.client.pipeline(transaction=False)
        for name in names:
            pipe.get(KEY_PREFIX + name)
            pipe.pttl(KEY_PREFIX + name)
        return pipe.execute()

    def _states(self, names: list[str], what: str) -> list[LockState]:
        """Each key's holder as the masters report it: the holder found on the most masters."""
        answers, errors = self._each(lambda m: self._read(m, names))
        if len(answers) < self.quorum:
            raise self._unavailable(what, len(answers), errors)
        states = []
        for i, name in enumerate(names):
            copies: dict[str | bytes, _Copies] = {}
            for master, replies in answers:
                raw, pttl = replies[2 * i], replies[2 * i + 1]
                if raw is not None:
                    entry = copies.setdefault(raw, _Copies(raw=raw))
                    entry.masters.append(master.url)
                    entry.pttls.append(int(pttl))
            seen = _most_seen(copies)
            if seen is None:
                continue
            held = {m.url: None for m in self.masters}  # None: did not answer
            held.update({master.url: master.url in seen.masters for master, _r in answers})
            states.append(LockState(key=name, holder=Holder.parse(seen.raw), ttl_seconds=seen.ttl_seconds,
                                    backend=self.name, raw=seen.raw, extra={"masters": held}))
        return states

    def inspect(self, key: str) -> LockState | None:
        states = self._states([key], f"quorum inspect of {key}")
        return states[0] if states else None

    def list(self) -> list[LockState]:
        def scan(master: _Master) -> list:
            return list(master.client.scan_iter(match=KEY_PREFIX + "*", count=500))

        answers, errors = self._each(scan)
        if len(answers) < self.quorum:
            raise self._unavailable("quorum list", len(answers), errors)
        names = sorted({(k.decode() if isinstance(k, bytes) else k)[len(KEY_PREFIX):]
                        for _m, keys in answers for k in keys})
        return self._states(names, "quorum list") if names else []

    def force_release(self, key: str) -> bool:
        answers, errors = self._each(lambda m: m.force_delete(keys=[KEY_PREFIX + key], args=[SIGNAL_PREFIX + key]))
        if not answers:
            raise self._unavailable(f"quorum force-release of {key}", 0, errors)
        return any(bool(deleted) for _m, deleted in answers)

    def release_if_unchanged(self, state: LockState) -> bool:
        answers, errors = self._each(lambda m: m.delete_if_unchanged(keys=[KEY_PREFIX + state.key],
                                                                     args=[state.raw, SIGNAL_PREFIX + state.key]))
        if not answers:
            raise self._unavailable(f"quorum clean-up of {state.key}", 0, errors)
        return any(bool(deleted) for _m, deleted in answers)

    def release_listener(self, key: str) -> QuorumReleaseListener:
        """Subscribe to the key's wake-ups on every master that answers (a release publishes on each)."""
        pubsubs, errors = [], []
        for master in self.masters:
            pubsub = master.client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(SIGNAL_PREFIX + key)
            except REDIS_ERRORS as exc:
                errors.append(f"{master.url}: {type(exc).__name__}: {exc}")
                _close(pubsub)
                continue
            pubsubs.append(pubsub)
        if not pubsubs:
            raise self._unavailable(f"quorum subscribe to {key}", 0, errors)
        return QuorumReleaseListener(self, pubsubs)

    def ping(self) -> bool:
        status = self.masters_status()
        answered = sum(1 for s in status if s["ok"])
        if answered < self.quorum:
            raise self._unavailable("quorum ping", answered, [f"{s['url']}: {s['error']}" for s in status
                                                              if not s["ok"]])
        return True

    def masters_status(self) -> list[dict]:
        """Each master's address (no password), whether it answers PING, and its error: for the health check."""
        status = []
        for master in self.masters:
            try:
                master.client.ping()
                status.append({"url": master.url, "ok": True, "error": None})
            except REDIS_ERRORS as exc:
                status.append({"url": master.url, "ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return status


def _close(pubsub) -> None:
    try:
        pubsub.close()
    except REDIS_ERRORS:
        pass


class QuorumReleaseListener:
    """A waiter's subscriptions to `job_signal:<key>` on every reachable master: `wait` returns at the first message
    from any of them, or at the timeout (at most one chunk, so no client's socket timeout fires meanwhile)."""

    def __init__(self, backend: QuorumLockBackend, pubsubs: list) -> None:
        self.backend = backend
        self.pubsubs = pubsubs

    def _message(self) -> bool:
        """Whether a wake-up is waiting on any subscription (read without blocking); a broken one is dropped."""
        for pubsub in list(self.pubsubs):
            try:
                while True:
                    if pubsub.get_message(timeout=0):
                        return True
                    if not pubsub.connection.can_read(timeout=0):
                        break  # what was buffered was a subscribe confirmation
            except REDIS_ERRORS:
                self.pubsubs.remove(pubsub)
                _close(pubsub)
        if not self.pubsubs:
            raise BackendUnavailable("every quorum master's wake-up subscription broke")
        return False

    def _sockets(self) -> list | None:
        """The subscriptions' OS sockets, or None when any is not one (fakeredis: its fake socket's fileno may
        name some other open file descriptor, which select would wait on instead)."""
        socks = [getattr(p.connection, "_sock", None) for p in self.pubsubs]
        if all(isinstance(s, socket.socket) for s in socks):
            return socks
        return None

    def wait(self, timeout: float) -> None:
        if timeout <= 0:
            return
        deadline = time.monotonic() + min(timeout, self.backend.blocking_chunk_seconds)
        while not self._message():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            socks = self._sockets()
            if socks is None:
                time.sleep(min(remaining, POLL_SLICE_SECONDS))
            else:
                select.select(socks, [], [], remaining)  # readable: a message, or a master that went away

    def close(self) -> None:
        for pubsub in self.pubsubs:
            _close(pubsub)
        self.pubsubs = []
