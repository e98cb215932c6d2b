"""Traces: a run's span and its children, a request's trace carried into the (background) run it starts, the console
exporter of a real `runjob`, and nothing at all (not even an import of OpenTelemetry) while traces are off."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.trace import SpanKind, StatusCode

from jobsite.middleware import route_template
from scheduler_app import locks, tracing
from scheduler_app.models import JobRun
from scheduler_app.services import job_run
from tests.conftest import manage, wait_finished
from tests.waiting import wait_for

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"


def by_name(exporter) -> dict:
    return {span.name: span for span in exporter.get_finished_spans()}


def parent_of(span) -> int | None:
    return span.parent.span_id if span.parent is not None else None


# --- the decision -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("environ,wanted", [
    ({}, False),
    ({"OTEL_SERVICE_NAME": "jobsite"}, False),
    ({"OTEL_TRACES_EXPORTER": "none"}, False),
    ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
    ({"OTEL_TRACES_EXPORTER": "console"}, True),
    ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
    ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, False),
])
def test_traces_are_wanted_only_when_the_standard_variables_ask(environ, wanted):
    assert tracing.traces_wanted(environ) is wanted


def test_off_every_helper_is_the_shared_noop():
    assert tracing.tracing_decide({}) is None
    assert not tracing.tracing_on()
    assert tracing.span("x", {"a": 1}) is tracing.NOOP
    assert tracing.request_span(method="GET", path="/", headers={}) is tracing.NOOP
    assert tracing.run_trace(job_id="quick_job", trigger="cli") is tracing.NO_SPAN
    assert tracing.context_capture() is None
    assert tracing.context_attached(None) is tracing.NOOP
    with tracing.span("x") as span:
        span.set("a", 1)  # accepted, recorded nowhere


def test_configured_without_the_sdk_installed_traces_stay_off(monkeypatch, caplog):
    import scheduler_app

    monkeypatch.delitem(sys.modules, "scheduler_app.tracing_otel", raising=False)
    monkeypatch.delattr(scheduler_app, "tracing_otel", raising=False)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # what `import opentelemetry` finds when not installed
    try:
        assert tracing.tracing_decide({"OTEL_TRACES_EXPORTER": "console"}) is None
        assert tracing.span("x") is tracing.NOOP
    finally:
        tracing.tracing_decide({})
    assert "OpenTelemetry is not installed" in caplog.text


def test_the_error_statuses_are_run_statuses():
    from scheduler_app import tracing_otel

    assert tracing_otel.ERROR_STATUSES == {JobRun.Status.FAILED, JobRun.Status.TIMED_OUT, JobRun.Status.LOST_LOCK}


def test_route_template_names_routes_not_paths():
    assert route_template("api/v1/^scheduler/runs/(?P<pk>[0-9]{1,18})/?$") == "/api/v1/scheduler/runs/<pk>"
    assert route_template("api/v1/^scheduler/job/?$") == "/api/v1/scheduler/job"
    assert route_template("admin/") == "/admin/"


# --- a run's spans ------------------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_run_has_one_span_with_lock_body_and_commit_children(spans, fake_redis):
    run = job_run(job_id="writer_job", trigger="cli", params={"marker": "traced"})
    assert run.status == JobRun.Status.SUCCEEDED, run.error

    named = by_name(spans)
    assert set(named) == {"job.run writer_job", "lock.acquire", "job.body", "ctx.atomic"}
    root, acquire, body, commit = (named[n] for n in ("job.run writer_job", "lock.acquire", "job.body",
                                                      "ctx.atomic"))
    assert root.parent is None
    assert dict(root.attributes) == {"job.id": "writer_job", "job.trigger": "cli", "job.run_id": run.pk,
                                     "job.fencing_token": run.fencing_token, "job.status": "SUCCEEDED"}
    assert root.status.status_code == StatusCode.UNSET
    assert {span.context.trace_id for span in named.values()} == {root.context.trace_id}
    assert parent_of(acquire) == parent_of(body) == root.context.span_id
    assert parent_of(commit) == body.context.span_id  # the job's write, inside its body
    assert acquire.attributes["lock.result"] == "acquired" and acquire.attributes["lock.backend"] == "redis"
    assert acquire.attributes["lock.key"] == "writer_job" and acquire.attributes["lock.wait_ms"] >= 0
    assert dict(commit.attributes) == {"job.id": "writer_job", "job.run_id": run.pk,
                                       "job.fencing_token": run.fencing_token,
                                       "db.transaction.outcome": "committed"}


@pytest.mark.django_db(transaction=True)
def test_a_failing_run_span_is_error(spans, fake_redis):
    run = job_run(job_id="failing_job", trigger="cli")
    assert run.status == JobRun.Status.FAILED

    root = by_name(spans)["job.run failing_job"]
    assert root.status.status_code == StatusCode.ERROR
    assert root.status.description == "RuntimeError: Test error"
    assert root.attributes["job.status"] == "FAILED"


@pytest.mark.django_db(transaction=True)
def test_a_blocked_run_says_so_on_its_lock_span_and_is_not_an_error(spans, fake_redis):
    with locks.execution_lock("quick_job", ttl_seconds=60, run_id=4242):
        run = job_run(job_id="quick_job", trigger="cli", wait_seconds=0)
    assert run.status == JobRun.Status.SKIPPED

    named = by_name(spans)
    assert "job.body" not in named
    acquire, root = named["lock.acquire"], named["job.run quick_job"]
    assert acquire.attributes["lock.result"] == "blocked" and acquire.attributes["lock.refused_by"] == "lock"
    assert root.attributes["job.status"] == "SKIPPED" and root.attributes["job.run_id"] == run.pk
    assert root.status.status_code == StatusCode.UNSET


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fallback,result,backend", [("database", "acquired", "database"),
                                                     ("fail", "unavailable", None)])
def test_with_redis_down_the_lock_span_names_the_fallback(spans, dead_redis, settings, fallback, result, backend):
    settings.LOCK_FALLBACK = fallback
    job_run(job_id="quick_job", trigger="cli")
    acquire = by_name(spans)["lock.acquire"]
    assert acquire.attributes["lock.result"] == result
    assert acquire.attributes.get("lock.backend") == backend


@pytest.mark.django_db(transaction=True)
def test_ctx_atomic_spans_say_what_became_of_the_transaction(spans):
    from scheduler_app.context import JobContext, StaleFencingToken

    def context(fence_ok: bool) -> JobContext:
        return JobContext(run_id=7, job_id="writer_job", lock_key="writer_job", fencing_token=7,
                          fence_check=lambda: fence_ok, current_fence=lambda: 8)

    with pytest.raises(ValueError), context(True).atomic():
        raise ValueError("the job's own error")
    with pytest.raises(StaleFencingToken), context(False).atomic():
        pass
    rolled_back, refused = spans.get_finished_spans()
    assert rolled_back.attributes["db.transaction.outcome"] == "rolled_back"
    assert refused.attributes["db.transaction.outcome"] == "refused"
    assert refused.status.status_code == rolled_back.status.status_code == StatusCode.ERROR
    assert refused.attributes["job.fencing_token"] == 7


def test_a_server_error_marks_the_request_span_error(spans):
    from django.http import HttpResponse
    from django.test import RequestFactory

    from jobsite.middleware import TraceMiddleware

    TraceMiddleware(lambda request: HttpResponse(status=503))(RequestFactory().get("/anywhere"))
    [request] = spans.get_finished_spans()
    assert request.name == "HTTP GET"  # no route resolved: the method alone, never the raw path
    assert request.attributes["http.response.status_code"] == 503 and request.attributes["url.path"] == "/anywhere"
    assert request.status.status_code == StatusCode.ERROR


def test_a_provider_set_before_is_used_as_it_is(spans, caplog):
    from opentelemetry import trace

    before = trace.get_tracer_provider()
    tracing.tracing_decide({"OTEL_TRACES_EXPORTER": "console"})
    assert trace.get_tracer_provider() is before
    assert "Overriding of current TracerProvider" not in caplog.text  # it did not even try to set its own


@pytest.mark.django_db(transaction=True)
def test_an_api_request_carries_its_trace_into_the_background_run(spans, staff_api, fake_redis):
    response = staff_api.post("/api/v1/scheduler/job", {"job_id": "quick_job"}, format="json",
                              HTTP_TRACEPARENT=TRACEPARENT)
    assert response.status_code == 202, response.content
    run = wait_finished(response.json()["run_id"])
    assert run.status == JobRun.Status.SUCCEEDED
    # The run span ends in the run's own thread, after its row is finished: wait for it too.
    named = wait_for(lambda: (found := by_name(spans)).get("job.run quick_job") and found,
                     message="the background run's span")

    request = named["HTTP POST /api/v1/scheduler/job"]
    root, body, acquire = named["job.run quick_job"], named["job.body"], named["lock.acquire"]
    assert request.kind == SpanKind.SERVER
    assert f"{request.context.trace_id:032x}" == TRACE_ID
    assert f"{parent_of(request):016x}" == CALLER_SPAN_ID  # the caller's span, from its traceparent
    assert request.attributes["http.response.status_code"] == 202
    assert request.attributes["http.route"] == "/api/v1/scheduler/job"
    assert {span.context.trace_id for span in (root, body, acquire)} == {request.context.trace_id}
    assert parent_of(root) == request.context.span_id
    assert parent_of(acquire) == parent_of(body) == root.context.span_id  # the body ran in another thread
    assert root.attributes["job.trigger"] == "api" and root.attributes["job.run_id"] == run.pk
    assert root.attributes["job.status"] == "SUCCEEDED"


@pytest.mark.django_db
def test_a_request_without_traceparent_starts_a_trace_of_its_own(spans, staff_api):
    assert staff_api.get("/api/v1/scheduler/runs/999999").status_code == 404
    request = by_name(spans)["HTTP GET /api/v1/scheduler/runs/<pk>"]
    assert request.parent is None and request.attributes["http.response.status_code"] == 404


# --- real processes -----------------------------------------------------------------------------------------------

def _without_otel(env: dict) -> dict:
    return {name: value for name, value in env.items() if not name.startswith("OTEL_")}


def _json_objects(text: str) -> list[dict]:
    """The JSON documents in `text` (the console exporter prints one per span, among other lines)."""
    decoder, found, index = json.JSONDecoder(), [], 0
    while (start := text.find("{", index)) != -1:
        try:
            value, index = decoder.raw_decode(text, start)
            found.append(value)
        except json.JSONDecodeError:
            index = start + 1
    return found


def test_runjob_with_the_console_exporter_prints_the_run_span(subprocess_env):
    env = {**_without_otel(subprocess_env), "OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "jobsite-test"}
    process = manage("runjob", "quick_job", env=env)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err

    run = JobRun.objects.get()
    assert out.startswith(f"run {run.pk}  job quick_job  status SUCCEEDED")
    printed = {span["name"]: span for span in _json_objects(out)}
    root = printed["job.run quick_job"]
    assert root["attributes"]["job.run_id"] == run.pk and root["attributes"]["job.status"] == "SUCCEEDED"
    assert root["attributes"]["job.trigger"] == "cli" and root["parent_id"] is None
    assert root["resource"]["attributes"]["service.name"] == "jobsite-test"
    for child in ("lock.acquire", "job.body"):
        assert printed[child]["parent_id"] == root["context"]["span_id"]
        assert printed[child]["context"]["trace_id"] == root["context"]["trace_id"]


class _Collector:
    """An OTLP/HTTP collector on 127.0.0.1: keeps every trace export request it is sent."""

    def __init__(self):
        self.requests: list = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                collector.requests.append((self.path, ExportTraceServiceRequest.FromString(body)))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"


def test_runjob_with_the_otlp_exporter_sends_the_run_span_to_the_collector(subprocess_env):
    collector = _Collector()
    try:
        env = {**_without_otel(subprocess_env), "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
               "OTEL_SERVICE_NAME": "jobsite-test"}  # the endpoint alone turns traces on, exporting OTLP
        process = manage("runjob", "quick_job", env=env)
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    finally:
        collector.server.shutdown()
        collector.server.server_close()

    run = JobRun.objects.get()
    assert {path for path, _ in collector.requests} == {"/v1/traces"}
    exported = [(resource.resource, span) for _, request in collector.requests
                for resource in request.resource_spans for scope in resource.scope_spans for span in scope.spans]
    [(resource, root)] = [(resource, span) for resource, span in exported if span.name == "job.run quick_job"]
    attributes = {item.key: item.value for item in root.attributes}
    assert attributes["job.run_id"].int_value == run.pk
    assert {item.key: item.value.string_value for item in resource.attributes}["service.name"] == "jobsite-test"
    assert {span.name for _, span in exported} == {"job.run quick_job", "lock.acquire", "job.body"}


# What only traces being on loads: our SDK side, the SDK's tracing, the propagators, the exporters. (Not the
# `opentelemetry` package as a whole: redis-py imports its metrics API and SDK when they are installed.)
TRACES_ONLY_MODULES = ("scheduler_app.tracing_otel", "opentelemetry.sdk.trace", "opentelemetry.propagate",
                       "opentelemetry.exporter")
NO_TRACES_PROBE = """
import json, sys
from django.core.management import call_command
from django.test import Client
from scheduler_app import tracing
call_command("runjob", "writer_job", "--param", "marker=probe")
Client().get("/api/v1/", HTTP_HOST="localhost")
loaded = sorted(m for m in sys.modules if m.startswith(TRACES_ONLY_MODULES))
print(json.dumps({"on": tracing.tracing_on(), "loaded": loaded}))
""".replace("TRACES_ONLY_MODULES", repr(TRACES_ONLY_MODULES))


def test_unconfigured_a_run_and_a_request_load_nothing_of_tracing(subprocess_env):
    process = manage("shell", "-c", NO_TRACES_PROBE, env=_without_otel(subprocess_env))
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "status SUCCEEDED" in out
    assert json.loads(out.strip().splitlines()[-1]) == {"on": False, "loaded": []}


@pytest.mark.django_db(transaction=True)
def test_turned_off_a_run_records_no_span(spans, fake_redis):
    tracing.tracing_decide({"OTEL_TRACES_EXPORTER": "none"})
    assert job_run(job_id="writer_job", trigger="cli").status == JobRun.Status.SUCCEEDED
    assert spans.get_finished_spans() == ()

