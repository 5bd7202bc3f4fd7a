"""The in-memory mode, the logger, metrics and the logging handler."""

from __future__ import annotations

import logging

import pytest

from dagnats_observe import FlushTimeoutError, Telemetry, TelemetryHandler, current_span


def test_logger_links_records_to_the_current_span() -> None:
    tel = Telemetry.in_memory("py-test")
    tel.logger.info("outside", step="build")
    with tel.tracer.start_span("work") as span:
        tel.logger.warning("inside", attempt=2, ratio=0.5, done=False)
        tel.logger.error("failed", error="disk full")
        tel.logger.log("debug", "explicit", fields={"a": "b"}, c=1)
    logs = tel.finished_logs()
    assert [l["level"] for l in logs] == ["info", "warn", "error", "debug"]
    assert "span_id" not in logs[0] and logs[0]["fields"] == {"step": "build"}
    assert logs[1]["span_id"] == span.span_id and logs[1]["trace_id"] == span.trace_id
    assert logs[1]["fields"] == {"attempt": 2, "ratio": 0.5, "done": False}
    assert logs[2]["error"] == "disk full"
    assert logs[3]["fields"] == {"a": "b", "c": 1}
    with pytest.raises(ValueError):
        tel.logger.log("loud", "x")
    with pytest.raises(TypeError):
        tel.logger.info("x", bad=[1])


def test_metrics_instruments() -> None:
    tel = Telemetry.in_memory("py-test")
    tel.metrics.counter("tasks.completed").add(1, {"queue": "default"})
    tel.metrics.gauge("queue.depth").set(12)
    tel.metrics.histogram("task.ms").record(35.5, {"step": "build"})
    with pytest.raises(ValueError):
        tel.metrics.counter("c").add(-1)
    points = tel.finished_metrics()
    assert [(p["name"], p["type"], p["value"]) for p in points] == [
        ("tasks.completed", "counter", 1.0),
        ("queue.depth", "gauge", 12.0),
        ("task.ms", "histogram", 35.5),
    ]
    assert points[0]["tags"] == {"queue": "default"}


def test_logging_handler_sends_stdlib_records_with_span_ids() -> None:
    tel = Telemetry.in_memory("py-test")
    log = logging.getLogger("dagnats.test.handler")
    log.setLevel(logging.DEBUG)
    handler = TelemetryHandler(tel.logger)
    log.addHandler(handler)
    try:
        with tel.tracer.start_span("work") as span:
            log.info("step %s done", "build", extra={"run_id": "r-1", "obj": object()})
            try:
                raise ValueError("bad input")
            except ValueError:
                log.exception("step failed")
        log.debug("after")
    finally:
        log.removeHandler(handler)
    logs = tel.finished_logs()
    assert logs[0]["message"] == "step build done"
    assert logs[0]["span_id"] == span.span_id
    assert logs[0]["fields"]["run_id"] == "r-1"
    assert logs[0]["fields"]["logger"] == "dagnats.test.handler"
    assert logs[0]["fields"]["obj"].startswith("<object")
    assert logs[1]["level"] == "error" and logs[1]["error"] == "ValueError: bad input"
    assert logs[2]["level"] == "debug" and "span_id" not in logs[2]
    assert current_span() is None


def test_in_memory_clear_and_records_only_in_memory() -> None:
    tel = Telemetry.in_memory("py-test")
    with tel.tracer.start_span("a"):
        pass
    assert len(tel.finished_spans()) == 1
    tel.clear()
    assert tel.finished_spans() == []
    assert tel.stats() is None
    tel.flush()
    tel.close()
    tel.close()


def test_flush_on_an_unreachable_server_times_out_with_a_telemetry_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Telemetry.connect(f"nats://127.0.0.1:{port}", "py-test") as tel:
        with tel.tracer.start_span("waits"):
            pass
        with pytest.raises(FlushTimeoutError):
            tel.flush(timeout=0.2)
        assert tel.stats()["pending"] == 1
    with pytest.raises(ValueError):
        Telemetry.connect(f"nats://127.0.0.1:{port}", token="t", user="u")
    with pytest.raises(TypeError):
        Telemetry.connect(f"nats://127.0.0.1:{port}", no_such_option=1)  # type: ignore[call-arg]



def test_noop_runs_the_instrumentation_and_keeps_nothing() -> None:
    tel = Telemetry.noop("off")
    with tel.tracer.start_span("discarded") as span:
        span.set_attribute("k", 1)
        assert current_span() is not None
        assert len(span.trace_id) == 32 and span.trace_id != "0" * 32
        tel.logger.info("discarded too")
    assert current_span() is None
    with pytest.raises(TypeError, match="in_memory"):
        tel.finished_spans()
    assert tel.stats() is None
    tel.flush()
    tel.close()
