"""What the database can store: no NUL in text (PostgreSQL refuses it), no lone surrogate (no UTF-8 encoder takes
one), and JSON nested no deeper than a limit. The API's parser and every job's params (from the API, the admin,
runjob or the schedule) check the same rules; `surrogates_replaced` renders a row stored before them."""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text (PostgreSQL refuses NUL; no UTF-8 encoder takes a lone surrogate),
    or None."""
    if "\x00" in value:
        return "may not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "may not contain unpaired surrogate characters"
    return None


def json_problem(data, *, max_depth: int, check_text: bool = True) -> tuple[str, str] | None:
    """The first (path, reason) in parsed JSON that is nested deeper than `max_depth` or (with `check_text`) holds
    text that cannot be stored, in keys or values; or None. Iterative: no recursion limit to hit."""
    stack: list[tuple[object, str, int]] = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list) and depth > max_depth:
            return path or "(body)", f"nested more than {max_depth} levels deep"
        if isinstance(value, dict):
            for key, item in value.items():
                if check_text and (reason := text_problem(key)) is not None:
                    return f"{path}.{key!r}".lstrip("."), f"field names {reason}"
                if check_text or isinstance(item, dict | list):
                    stack.append((item, f"{path}.{key}".lstrip("."), depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value)
                         if check_text or isinstance(item, dict | list))
        elif isinstance(value, str) and (reason := text_problem(value)) is not None:
            return path or "(body)", f"text {reason}"
    return None


# In JSON text, a NUL or a surrogate can only arrive as a \u escape (raw control characters are a parse error, and
# UTF-8 cannot encode a surrogate): text without such an escape needs no text check.
_RISKY_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def json_text_problem(text: str, data, *, max_depth: int) -> tuple[str, str] | None:
    """json_problem for `data` parsed from `text`, skipping what the text shows cannot fail (both checks are C-speed
    scans): no risky escape means no text problem (the walk then visits containers only), and fewer brackets
    than `max_depth` cannot nest that deep."""
    check_text = _RISKY_ESCAPE.search(text) is not None
    if not check_text and text.count("[") + text.count("{") <= max_depth:
        return None
    return json_problem(data, max_depth=max_depth, check_text=check_text)


def surrogates_replaced(value):
    """`value` with every unpaired surrogate in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if text_problem(value) else value
    if isinstance(value, dict):
        return {surrogates_replaced(key): surrogates_replaced(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [surrogates_replaced(item) for item in value]
    return value
