"""What each run of this process last reported through `ctx.progress()`, held in memory until the renewal thread
writes it with the heartbeat (so a job that reports a thousand times a second costs no more database writes)."""

from __future__ import annotations

import threading

_lock = threading.Lock()
_latest: dict[int, dict[str, dict]] = {}
_dirty: set[int] = set()


def progress_note(run_id: int, task: str, done: int, total: int | None) -> None:
    with _lock:
        _latest.setdefault(run_id, {})[task] = {"done": done, "total": total}
        _dirty.add(run_id)


def progress_changed(run_ids: list[int]) -> dict[int, dict]:
    """The runs among `run_ids` whose progress changed since it was last taken, with a copy of it."""
    with _lock:
        changed = {run_id: {task: dict(v) for task, v in _latest[run_id].items()}
                   for run_id in run_ids if run_id in _dirty}
        _dirty.difference_update(changed)
    return changed


def progress_final(run_id: int) -> dict | None:
    """A finished run's last progress, forgotten here."""
    with _lock:
        _dirty.discard(run_id)
        return _latest.pop(run_id, None)
