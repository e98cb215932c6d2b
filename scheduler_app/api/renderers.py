"""The API's JSON renderer (REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"]): a row stored before input was checked
may hold a lone surrogate, which no UTF-8 encoder takes. Such text renders with U+FFFD in its place, so one bad row
never turns every page that holds it into a 500."""

from __future__ import annotations

from rest_framework.renderers import JSONRenderer

from scheduler_app.storable import surrogates_replaced


class SafeJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:  # rare: only rows stored before input was checked
            return super().render(surrogates_replaced(data), accepted_media_type, renderer_context)
