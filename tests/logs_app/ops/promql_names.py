"""The series names and label matchers a PromQL expression uses, for checking rules and dashboards against a live
/metrics. promtool checks the syntax; this only has to find the names, so a small scanner is enough."""

from __future__ import annotations

import re

KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
            "offset", "inf", "nan"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_MATCHERS = re.compile(r"\{([^}]*)\}")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_IDENT = re.compile(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w(])(?!\s*\()")


def series_names(expr: str) -> set[str]:
    """Metric names in `expr`: identifiers that are not functions, keywords, grouping labels or durations."""
    text = _MATCHERS.sub(" ", expr)
    text = _STRING.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\$\w+", " ", text)  # Grafana variables
    return {name for name in _IDENT.findall(text) if name.lower() not in KEYWORDS}


_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")


def selectors(expr: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(metric name, [(label, operator, value), ...]) of every selector with label matchers in `expr`."""
    return [(name, _MATCHER.findall(body)) for name, body in _SELECTOR.findall(expr)]
