"""Command-line job parameters: `--param KEY=VALUE`, as runjob and the sources command take them."""

from __future__ import annotations

from collections.abc import Iterable


def params_parse(items: Iterable[str]) -> dict[str, str]:
    """`["keyword=python", "limit=5"]` → `{"keyword": "python", "limit": "5"}`. Values stay strings: the job's
    signature (or the caller) decides their types. Raises ValueError naming the first item that is not KEY=VALUE."""
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--param expects KEY=VALUE, got {item!r}")
        params[key.strip()] = value
    return params
