"""The OpenAPI document is the contract (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]): besides each view's own answers
it lists every error status the framework gives, with the error's shape, so a client (and schemathesis) can rely
on it:

- 400 wherever the operation reads input (a body, a query string, a path parameter);
- 401 and 403 on every authenticated operation (no or a bad token; not staff, or no CSRF token for a session);
- 404 for a path naming nothing, and a page past the last one;
- 413 and 415 for a body too large or not JSON;
- 429 where a throttle applies.

A trigger's refusals (409 while the lock is held, 503 when the lock service or the database cannot take the run)
are the views' own: they declare REFUSAL_RESPONSES.
"""

from __future__ import annotations

import re

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny

_ERROR_SCHEMA = {
    "type": "object",
    "description": "`detail` says what went wrong; for bad input each field's name maps to its messages.",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}
_ERRORS = {
    "400": "Bad input: a malformed, out-of-range or unknown field, parameter or JSON body; the body says which.",
    "401": "No credentials, or a token that is not valid.",
    "403": "Authenticated but not allowed (staff only), or a session request without its CSRF token.",
    "404": "Nothing at this path (or a page past the last one).",
    "409": "A record like this already exists, or the team holds as many as it may (the body says which).",
    "413": "The request body is larger than API_MAX_BODY_BYTES.",
    "415": "The request body is not JSON (send Content-Type: application/json).",
    "429": "Too many requests: retry after the Retry-After header's seconds.",
}
_BODY_METHODS = {"POST", "PUT", "PATCH"}

_holder = inline_serializer("RefusalHolder", fields={
    "run_id": serializers.IntegerField(allow_null=True, help_text="The holder's run (its fencing token)."),
    "acquired_at": serializers.FloatField(allow_null=True, help_text="When it took the lock (Unix seconds)."),
    "host": serializers.CharField(required=False, help_text="Staff only."),
    "pid": serializers.IntegerField(required=False, help_text="Staff only."),
    "token": serializers.CharField(required=False, help_text="Staff only: the lock's owner token."),
}, allow_null=True)
RefusalOutput = inline_serializer("Refusal", fields={
    "detail": serializers.CharField(help_text='"Job is already running", "Lock service unavailable" or '
                                              '"Run could not be recorded".'),
    "job_id": serializers.CharField(),
    "run_id": serializers.IntegerField(allow_null=True, help_text="The SKIPPED run this trigger left."),
    "holder": _holder,
    "ttl_seconds": serializers.FloatField(allow_null=True, required=False),
    "heartbeat_age_seconds": serializers.FloatField(allow_null=True, required=False),
    "refused_by": serializers.CharField(allow_null=True, required=False, help_text='"lock" or "database".'),
    "error": serializers.CharField(required=False),
})
REFUSAL_RESPONSES = {
    409: OpenApiResponse(RefusalOutput, description="The job is already running: the holder, and the SKIPPED run."),
    503: OpenApiResponse(RefusalOutput, description="The lock service (LOCK_FALLBACK=fail) or the database could "
                                                    "not take the run."),
}

# The run's id and status on every trigger's answer (scheduler_app.api.responses.run_headers).
RUN_HEADER_PARAMETERS = [
    OpenApiParameter("X-Run-Id", int, OpenApiParameter.HEADER, response=True, description="The trigger's run."),
    OpenApiParameter("X-Run-Status", str, OpenApiParameter.HEADER, response=True,
                     description="The run's status (SUCCEEDED, FAILED, SKIPPED, ...), for `curl -f` users."),
]


class ProjectAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            responses.setdefault(code, {"description": _ERRORS[code],
                                        "content": {"application/json": {"schema": _ERROR_SCHEMA}}})
        return dict(sorted(responses.items()))

    def _error_codes(self) -> list[str]:
        codes = []
        takes_body = self.method in _BODY_METHODS
        if takes_body or self._get_parameters():
            codes.append("400")
        if not all(issubclass(permission, AllowAny) for permission in self.view.permission_classes):
            codes += ["401", "403"]
        if "{" in self.path or (self.method == "GET" and self._is_list_view() and self._get_paginator()):
            codes.append("404")
        if takes_body:
            codes += ["413", "415"]
            if getattr(self.view, "unique_rules", False):
                codes.append("409")
        if self.view.get_throttles():
            codes.append("429")
        return codes


def paths_without_trailing_slash(result, generator, request, public):
    """A spectacular post-processing hook: every route answers with and without its trailing slash (api_route);
    the document lists each once, in the acceptance guide's form (`/api/v1/scheduler/status`), the index as
    `/api/v1/`."""
    result["paths"] = {(path.rstrip("/") if path.count("/") > 3 else path): item
                       for path, item in result["paths"].items()}
    return result


# Text the API refuses, said in the document: no NUL anywhere; and a field that may not be blank needs one
# character that is neither whitespace nor NUL (DRF trims whitespace before it checks for blank).
# Python's whitespace (str.isspace, what DRF's trim strips) spelled out: ECMA's \s, which the document's readers
# use, lacks \x1c-\x1f and \x85.
PY_SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NO_NUL = r"^[^\x00]*$"
NOT_BLANK_NO_NUL = rf"^[^\x00]*[^\x00{PY_SPACE}][^\x00]*$"


def input_rules_documented(result, generator, request, public):
    """A spectacular post-processing hook: what every strict input refuses, in the document.

    - Request bodies (the `...Request` components) take no other fields: `additionalProperties: false`.
    - Plain strings (no format, enum or pattern of their own), in bodies and query parameters, carry the text
      rule as a pattern.
    """
    components = result.get("components", {}).get("schemas", {})
    for name, schema in components.items():
        if name.endswith("Request") and schema.get("type") == "object":
            schema.setdefault("additionalProperties", False)
        for prop in schema.get("properties", {}).values():
            _text_rule(prop)
    for item in result["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "query":
                    _text_rule(parameter.get("schema", {}))
            body = operation.get("requestBody", {}) if isinstance(operation, dict) else {}
            if body and operation is item.get("post"):
                body["required"] = True  # every POST that takes a body needs one (its fields say which)
            for media in body.get("content", {}).values():
                inline = media.get("schema", {})
                if inline.get("type") == "object" and "properties" in inline:
                    inline.setdefault("additionalProperties", False)
    return result


# spectacular's decimal pattern lets "-" and "." through (every digit is optional); DRF refuses them.
_DECIMAL_PATTERN = re.compile(r"\^-\?\\d\{0,(\d+)\}\(\?:\\\.\\d\{0,(\d+)\}\)\?\$")


def _text_rule(schema: dict) -> None:
    if schema.get("format") == "decimal" and (match := _DECIMAL_PATTERN.fullmatch(schema.get("pattern", ""))):
        whole, places = match.groups()
        schema["pattern"] = rf"^-?(?:\d{{1,{whole}}}(?:\.\d{{0,{places}}})?|\.\d{{1,{places}}})$"
        return
    if schema.get("type") == "array":
        _text_rule(schema.get("items", {}))
        return
    if schema.get("type") != "string" or {"format", "enum", "pattern"} & set(schema):
        return
    schema["pattern"] = NOT_BLANK_NO_NUL if schema.get("minLength", 0) >= 1 else NO_NUL
