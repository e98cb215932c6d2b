"""The job registry: every function that wears `with_execution_lock` is registered here by its id."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.validators import RegexValidator

from scheduler_app.storable import json_problem

# The one job-id rule, for the model, the API, the CLI and the log filter. \A…\Z: "$" would accept a trailing newline.
JOB_ID_PATTERN = r"\A[a-z0-9_]{1,64}\Z"
job_id_validator = RegexValidator(JOB_ID_PATTERN, "Job ids are 1-64 characters of a-z, 0-9 and _.")
JOB_ID_PATTERN_JS = "^[a-z0-9_]{1,64}$"  # the same rule in JSON Schema's (ECMA) syntax, for the OpenAPI document


PARAMS_MAX_DEPTH = 8  # a job's params are a flat mapping of a few values; nesting beyond this is a mistake


class JobNotFound(LookupError):
    def __init__(self, job_id: str):
        self.job_id = job_id
        super().__init__(f"Unknown job: {job_id}")


class InvalidJobParams(ValueError):
    """Bad parameters for a job: the caller's mistake (HTTP 400, runjob exit 2)."""

    def __init__(self, message: str, errors: dict[str, Any] | None = None):
        self.errors = errors or {}
        super().__init__(message)


@dataclass
class JobSpec:
    job_id: str
    func: Callable[..., Any]
    name: str
    timeout_minutes: float
    wait_seconds: float = 0
    scope: str = "job"
    cron: str = ""
    interval_seconds: int | None = None
    params_validator: Callable[[dict], dict] | None = None
    signature: inspect.Signature = field(init=False)

    def __post_init__(self) -> None:
        self.signature = inspect.signature(self.func)

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.func)

    @property
    def accepts_team(self) -> bool:
        return "team" in self.signature.parameters

    def bind_params(self, params: dict[str, Any] | None) -> dict[str, Any]:
        """Check params against the job's signature (and its validator); coerce CLI strings to int/float/bool.
        Text the database cannot store, or nesting deeper than PARAMS_MAX_DEPTH, is refused first (the run row
        keeps the params)."""
        params = dict(params or {})
        problem = json_problem(params, max_depth=PARAMS_MAX_DEPTH)
        if problem is not None:
            path, reason = problem
            raise InvalidJobParams(f"{path}: {reason}", {path.split(".")[0].split("[")[0]: reason})
        if self.params_validator is not None:
            return self.params_validator(params)
        accepted = {n: p for n, p in self.signature.parameters.items() if n != "team"}
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise InvalidJobParams(f"Unknown parameter(s) for {self.job_id}: {', '.join(unknown)}",
                                   {k: "unknown parameter" for k in unknown})
        for name, value in list(params.items()):
            params[name] = _coerce(name, value, accepted[name].annotation)
        return params


def _coerce(name: str, value: Any, annotation: Any) -> Any:
    if not isinstance(value, str):
        return value
    target = {"int": int, "float": float, "bool": bool}.get(str(annotation).split(" ")[0].split("|")[0].strip(),
                                                              annotation)
    try:
        if target is bool:
            if value.lower() in {"1", "true", "yes", "on"}:
                return True
            if value.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(value)
        if target in (int, float):
            return target(value)
    except ValueError:
        raise InvalidJobParams(f"{name}: expected {target.__name__}, got {value!r}",
                               {name: f"expected {target.__name__}"}) from None
    return value


_registry: dict[str, JobSpec] = {}


def register(spec: JobSpec) -> None:
    _registry[spec.job_id] = spec


def get(job_id: str) -> JobSpec:
    try:
        return _registry[job_id]
    except KeyError:
        raise JobNotFound(job_id) from None


def all_specs() -> list[JobSpec]:
    return sorted(_registry.values(), key=lambda spec: spec.job_id)
