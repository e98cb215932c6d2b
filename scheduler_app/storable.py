"""What the database can store: no NUL in text (PostgreSQL refuses it), no lone surrogate (no UTF-8 encoder takes
one), and JSON nested no deeper than a limit. The API's parser and every job's params (from the API, the admin,
runjob or the schedule) check the same rules."""

from __future__ import annotations


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


def json_problem(data, *, max_depth: int) -> tuple[str, str] | None:
    """The first (path, reason) in parsed JSON that is nested deeper than `max_depth` or holds text that cannot
    be stored (in keys or values), or None. Iterative: no recursion limit to hit."""
    stack: list[tuple[object, str, int]] = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list) and depth > max_depth:
            return path or "(body)", f"nested more than {max_depth} levels deep"
        if isinstance(value, dict):
            for key, item in value.items():
                if (reason := text_problem(key)) is not None:
                    return f"{path}.{key!r}".lstrip("."), f"field names {reason}"
                stack.append((item, f"{path}.{key}".lstrip("."), depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))
        elif isinstance(value, str) and (reason := text_problem(value)) is not None:
            return path or "(body)", f"text {reason}"
    return None
