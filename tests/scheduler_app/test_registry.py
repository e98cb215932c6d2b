"""scheduler_app.registry: JobSpec (parameter binding and coercion, validators, team and async flags) and lookup."""

from __future__ import annotations

import pytest

from scheduler_app import registry
from scheduler_app.registry import InvalidJobParams, JobNotFound, JobSpec


def typed(*, count: int = 1, ratio: float = 0.5, flag: bool = False, label: str = "x", maybe: float | None = None):
    return count, ratio, flag, label, maybe


def untyped(*, anything=None):
    return anything


def with_team(*, seconds: float = 0.0, team=None):
    return team


async def coroutine_job(*, seconds: float = 0.0):
    return seconds


def spec_of(func, **kwargs) -> JobSpec:
    return JobSpec(job_id=func.__name__, func=func, name=func.__name__, timeout_minutes=1, **kwargs)


def test_cli_strings_are_coerced_to_the_annotated_types():
    bound = spec_of(typed).bind_params({"count": "7", "ratio": "2.5", "flag": "true", "label": "42", "maybe": "1"})
    assert bound == {"count": 7, "ratio": 2.5, "flag": True, "label": "42", "maybe": 1.0}
    assert type(bound["count"]) is int and type(bound["ratio"]) is float and type(bound["maybe"]) is float


@pytest.mark.parametrize(("text", "value"), [("1", True), ("TRUE", True), ("yes", True), ("on", True),
                                             ("0", False), ("False", False), ("no", False), ("off", False)])
def test_bool_strings(text, value):
    assert spec_of(typed).bind_params({"flag": text}) == {"flag": value}


@pytest.mark.parametrize(("name", "text", "expected"), [("count", "seven", "int"), ("count", "1.5", "int"),
                                                         ("ratio", "half", "float"), ("flag", "maybe", "bool")])
def test_a_string_that_is_not_of_the_type_is_invalid(name, text, expected):
    with pytest.raises(InvalidJobParams) as invalid:
        spec_of(typed).bind_params({name: text})
    assert invalid.value.errors == {name: f"expected {expected}"}
    assert str(invalid.value) == f"{name}: expected {expected}, got {text!r}"
    assert isinstance(invalid.value, ValueError)  # the caller's mistake: HTTP 400, runjob exit 2


def test_values_that_are_not_strings_pass_unchanged():
    assert spec_of(typed).bind_params({"count": 3, "ratio": 1, "flag": True}) == {"count": 3, "ratio": 1, "flag": True}
    assert spec_of(untyped).bind_params({"anything": "7"}) == {"anything": "7"}  # no annotation: no coercion


def test_no_params_bind_to_an_empty_dict_and_the_input_is_not_changed():
    spec = spec_of(typed)
    assert spec.bind_params(None) == {} and spec.bind_params({}) == {}
    given = {"count": "2"}
    assert spec.bind_params(given) == {"count": 2}
    assert given == {"count": "2"}


def test_unknown_params_are_named_sorted_in_one_error():
    with pytest.raises(InvalidJobParams) as invalid:
        spec_of(typed).bind_params({"zeta": 1, "alpha": 2, "count": "1"})
    assert str(invalid.value) == "Unknown parameter(s) for typed: alpha, zeta"
    assert invalid.value.errors == {"alpha": "unknown parameter", "zeta": "unknown parameter"}


def test_team_is_not_a_parameter_a_caller_may_pass():
    """The runner passes the team itself; as a parameter it is unknown."""
    with pytest.raises(InvalidJobParams) as invalid:
        spec_of(with_team).bind_params({"team": "1"})
    assert invalid.value.errors == {"team": "unknown parameter"}


def test_a_validator_replaces_the_signature_check():
    seen = []

    def validate(params: dict) -> dict:
        seen.append(params)
        if "keyword" not in params:
            raise InvalidJobParams("keyword is required", {"keyword": "required"})
        return {"keyword": params["keyword"].strip(), "extra": True}

    spec = spec_of(typed, params_validator=validate)
    assert spec.bind_params({"keyword": " python "}) == {"keyword": "python", "extra": True}  # unknown to typed()
    with pytest.raises(InvalidJobParams) as invalid:
        spec.bind_params(None)
    assert invalid.value.errors == {"keyword": "required"}
    assert seen == [{"keyword": " python "}, {}]  # always a dict, never None


def test_accepts_team_and_is_async():
    assert spec_of(with_team).accepts_team is True
    assert spec_of(typed).accepts_team is False
    assert spec_of(coroutine_job).is_async is True
    assert spec_of(typed).is_async is False
    assert registry.get("team_job").accepts_team and not registry.get("quick_job").accepts_team
    assert registry.get("async_job").is_async and not registry.get("hold_job").is_async


def test_get_unknown_job_raises_job_not_found():
    with pytest.raises(JobNotFound) as missing:
        registry.get("no_such_job")
    assert missing.value.job_id == "no_such_job"
    assert str(missing.value) == "Unknown job: no_such_job"
    assert isinstance(missing.value, LookupError)


def test_register_get_and_all_specs_sorted(monkeypatch):
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))  # restored after the test
    spec = spec_of(typed)
    registry.register(spec)
    assert registry.get("typed") is spec
    ids = [s.job_id for s in registry.all_specs()]
    assert "typed" in ids and ids == sorted(ids)
    assert {"quick_job", "hold_job", "scrape_jobs_task"} <= set(ids)
    replacement = spec_of(typed)
    registry.register(replacement)  # the same id again: the newer spec wins
    assert registry.get("typed") is replacement


def test_decorated_jobs_are_registered_with_their_decorator_values():
    spec = registry.get("team_job")
    assert spec.scope == "team" and spec.timeout_minutes == 1 and spec.name == "Team scoped"
    assert registry.get("hold_job").bind_params({"seconds": "0.25"}) == {"seconds": 0.25}
