"""The `format` option (issue 14): a Telemetry connected with format "engine" writes the
DagNats engine's dialect on a real nats-server, and the stored message bodies pass the
engine's strict reader (testkit/engine_strict_reader.py: protobuf's JSON parser at its
defaults into the official OTLP Span, the log's flat object key by key). The option's
errors, DAGNATS_TELEMETRY_FORMAT, and in-memory records staying records."""

from __future__ import annotations

import asyncio
import json
import pathlib
import re
import subprocess
import sys
from typing import Any, Dict, List, Tuple

import nats
import pytest

from dagnats_observe import SpanKind, Telemetry, TelemetryFormat

ROOT = pathlib.Path(__file__).resolve().parents[3]
STRICT_READER = ROOT / "testkit" / "engine_strict_reader.py"
LOG_KEYS = {"timestamp", "severity", "body", "attributes", "traceId", "spanId", "serviceName"}
ACCEPTED = "records, engine"


async def _stored(nats_url: str, want: int) -> List[Tuple[str, str]]:
    """The first `want` messages of TELEMETRY as (subject, body text)."""
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.jetstream().subscribe("telemetry.>", ordered_consumer=True)
        out = []
        while len(out) < want:
            msg = await sub.next_msg(timeout=10)
            out.append((msg.subject, msg.data.decode("utf-8")))
        return out
    finally:
        await nc.close()


def stored(nats_url: str, want: int) -> List[Tuple[str, str]]:
    return asyncio.run(_stored(nats_url, want))


def strict_reader(messages: List[Tuple[str, str]]) -> Tuple[int, Dict[str, Any]]:
    """Runs the strict reader on (subject, body) pairs; returns its exit code and verdict."""
    lines = "".join(json.dumps({"subject": s, "body": b}) + "\n" for s, b in messages)
    done = subprocess.run(
        [sys.executable, str(STRICT_READER)], input=lines, capture_output=True, text=True, timeout=60
    )
    assert done.stdout, f"the strict reader printed nothing (exit {done.returncode}): {done.stderr}"
    return done.returncode, json.loads(done.stdout)


def check_log_shape(body: Dict[str, Any]) -> None:
    """The engine's log object, key by key (engine-dialect.md, Logs)."""
    assert set(body) <= LOG_KEYS, f"keys outside the engine's log: {set(body) - LOG_KEYS}"
    assert {"timestamp", "severity", "body", "serviceName"} <= set(body)
    for key in ("body", "severity"):
        assert isinstance(body[key], str) and body[key], f"{key} {body[key]!r}"
    assert all(isinstance(v, str) for v in body.get("attributes", {}).values()), body.get("attributes")
    assert re.fullmatch(r"[0-9a-f]{32}", body["traceId"]), body["traceId"]
    assert re.fullmatch(r"[0-9a-f]{16}", body["spanId"]), body["spanId"]


def publish_span_and_log(tel: Telemetry) -> Tuple[str, str]:
    """A span with every kind of attribute and a recorded error, and a log inside it with
    fields that are not strings. Returns the span's (trace id, span id)."""
    with tel.tracer.start_span(
        "engine.task",
        kind=SpanKind.SERVER,
        attributes={"run_id": "r-engine", "attempt": 3, "ratio": 0.25, "cached": True},
    ) as span:
        span.record_error(ValueError("disk full"))
        tel.logger.error("task failed", span=span, attempt=2, ratio=1.5, retry=True, step="build")
        ids = (span.trace_id, span.span_id)
    tel.flush(timeout=10)
    tel.close()
    return ids


@pytest.mark.parametrize("format", ["engine", TelemetryFormat.ENGINE], ids=["string", "enum"])
def test_engine_span_and_log_pass_the_strict_reader(nats_url: str, format: Any) -> None:
    tel = Telemetry.connect(nats_url, "py-engine-fmt", format=format)
    trace_id, span_id = publish_span_and_log(tel)

    messages = stored(nats_url, 2)
    code, verdict = strict_reader(messages)
    assert code == 0 and verdict["ok"], verdict["errors"]
    assert len(verdict["spans"]) == 1 and len(verdict["logs"]) == 1

    span = verdict["spans"][0]
    assert span["subject"] == "telemetry.spans.py-engine-fmt.r-engine"
    assert (span["traceId"], span["spanId"]) == (trace_id, span_id)
    assert span["name"] == "engine.task" and span["kind"] == "SPAN_KIND_SERVER"
    assert span["attributes"] == {
        "run_id": {"type": "string", "value": "r-engine"},
        "attempt": {"type": "int", "value": 3},
        "ratio": {"type": "double", "value": 0.25},
        "cached": {"type": "bool", "value": True},
    }
    exception = [e for e in span["events"] if e["name"] == "exception"]
    assert len(exception) == 1, span["events"]
    assert exception[0]["attributes"]["exception.type"] == {"type": "string", "value": "ValueError"}
    assert exception[0]["attributes"]["exception.message"] == {"type": "string", "value": "disk full"}
    assert span["status"]["code"] == "STATUS_CODE_ERROR"

    log = verdict["logs"][0]
    assert log["subject"] == "telemetry.logs.py-engine-fmt.error"
    body = json.loads(next(b for s, b in messages if s.startswith("telemetry.logs.")))
    check_log_shape(body)
    assert body == log["record"]
    assert (body["traceId"], body["spanId"]) == (trace_id, span_id)
    assert body["severity"] == "error" and body["body"] == "task failed"
    assert body["serviceName"] == "py-engine-fmt"
    assert body["attributes"] == {"attempt": "2", "ratio": "1.5", "retry": "true", "step": "build"}


def test_the_variable_selects_engine_without_the_option(nats_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGNATS_TELEMETRY_FORMAT", "engine")
    tel = Telemetry.connect(nats_url, "py-engine-env")
    trace_id, span_id = publish_span_and_log(tel)

    messages = stored(nats_url, 2)
    code, verdict = strict_reader(messages)
    assert code == 0 and verdict["ok"], verdict["errors"]
    assert [(s["traceId"], s["spanId"]) for s in verdict["spans"]] == [(trace_id, span_id)]
    check_log_shape(verdict["logs"][0]["record"])


def test_the_option_wins_over_the_variable(nats_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGNATS_TELEMETRY_FORMAT", "engine")
    tel = Telemetry.connect(nats_url, "py-records", format="records")
    trace_id, _ = publish_span_and_log(tel)

    messages = stored(nats_url, 2)
    span = json.loads(next(b for s, b in messages if s.startswith("telemetry.spans.")))
    assert span["trace_id"] == trace_id and span["service"] == "py-records"
    # The record format is not the engine's: its strict reader refuses it.
    code, verdict = strict_reader(messages)
    assert code == 1 and not verdict["ok"]
    assert any("protobuf rejects the body" in e for e in verdict["errors"]), verdict["errors"]


@pytest.mark.parametrize("bad", ["otlp", "", "record"])
def test_an_unknown_format_is_a_value_error_naming_the_accepted_ones(bad: str) -> None:
    with pytest.raises(ValueError, match=ACCEPTED):
        Telemetry.connect("nats://127.0.0.1:1", "py-bad", format=bad)


@pytest.mark.parametrize("bad", [1, b"engine", ["engine"], SpanKind.SERVER])
def test_a_format_of_another_type_is_a_type_error(bad: Any) -> None:
    with pytest.raises(TypeError, match="format must be a str"):
        Telemetry.connect("nats://127.0.0.1:1", "py-bad", format=bad)


def test_an_unknown_variable_is_a_value_error_naming_the_accepted_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGNATS_TELEMETRY_FORMAT", "otlp")
    with pytest.raises(ValueError, match=ACCEPTED) as raised:
        Telemetry.connect("nats://127.0.0.1:1", "py-bad")
    assert "DAGNATS_TELEMETRY_FORMAT" in str(raised.value)


def test_format_members() -> None:
    assert TelemetryFormat.ENGINE.value == "engine" and str(TelemetryFormat.RECORDS) == "records"
    assert TelemetryFormat.ENGINE == TelemetryFormat.ENGINE != TelemetryFormat.RECORDS
    assert len({TelemetryFormat.ENGINE, TelemetryFormat.ENGINE, TelemetryFormat.RECORDS}) == 2


def test_in_memory_keeps_records_whatever_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGNATS_TELEMETRY_FORMAT", "engine")
    tel = Telemetry.in_memory("py-mem")
    with tel.tracer.start_span("work", attributes={"n": 1}):
        tel.logger.info("hello", n=2)
    (span,) = tel.finished_spans()
    (log,) = tel.finished_logs()
    assert span["service"] == "py-mem" and span["attributes"] == {"n": 1} and "trace_id" in span
    assert log["message"] == "hello" and log["fields"] == {"n": 2}


def test_the_strict_reader_fails_on_a_record_format_span() -> None:
    tel = Telemetry.in_memory("py-mem")
    with tel.tracer.start_span("work", attributes={"run_id": "r"}):
        pass
    body = json.dumps(tel.finished_spans()[0])
    code, verdict = strict_reader([("telemetry.spans.py-mem.r", body)])
    assert code == 1 and not verdict["ok"]
    code, verdict = strict_reader([])
    assert code == 1 and verdict["errors"] == ["no message bodies were given"]
