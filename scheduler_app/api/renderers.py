"""The API's JSON renderer (REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"]): a row stored before input was checked
may hold a lone surrogate, which no UTF-8 encoder takes. Such text renders with U+FFFD in its place, so one bad row
never turns every page that holds it into a 500."""

from __future__ import annotations

import re

from rest_framework.renderers import JSONRenderer

_SURROGATE = re.compile("[\ud800-\udfff]")


def surrogates_replaced(value):
    """`value` with every unpaired surrogate in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _unencodable(value) else value
    if isinstance(value, dict):
        return {surrogates_replaced(key): surrogates_replaced(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [surrogates_replaced(item) for item in value]
    return value


def _unencodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class SafeJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:  # rare: only rows stored before input was checked
            return super().render(surrogates_replaced(data), accepted_media_type, renderer_context)
