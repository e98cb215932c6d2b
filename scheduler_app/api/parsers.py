"""The API's one body parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]): JSON, with a size limit, a depth limit and
text a database can store. Each violation is a 400 (413 for size) that says what to change, never a 500."""

from __future__ import annotations

import codecs
import json

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.settings import api_settings

from scheduler_app.storable import json_text_problem


class RequestBodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"


class SafeJSONParser(JSONParser):
    """DRF's JSONParser, bounded: at most API_MAX_BODY_BYTES read (413 beyond, chunked bodies included), at most
    API_MAX_JSON_DEPTH levels of nesting, and no NUL or unpaired surrogate in any string (400)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestBodyTooLarge(f"Request body is larger than {limit} bytes (API_MAX_BODY_BYTES).")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(raw, encoding)
            strict = api_settings.STRICT_JSON
            data = json.loads(text, parse_constant=_refuse_constant if strict else None)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested more than {settings.API_MAX_JSON_DEPTH} levels deep") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        problem = json_text_problem(text, data, max_depth=settings.API_MAX_JSON_DEPTH)
        if problem is not None:
            path, reason = problem
            raise ParseError(f"JSON body at {path}: {reason}")
        return data


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
