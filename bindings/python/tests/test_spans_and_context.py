"""Spans, the current span across nested blocks, asyncio tasks and threads, errors."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any, Dict

import pytest

from dagnats_observe import SpanKind, StatusCode, Telemetry, current_span, extract, inject


@pytest.fixture
def tel() -> Telemetry:
    return Telemetry.in_memory("py-test")


def by_name(tel: Telemetry) -> dict:
    return {s["name"]: s for s in tel.finished_spans()}


def test_with_block_makes_the_span_current_and_ends_it(tel: Telemetry) -> None:
    assert current_span() is None
    with tel.tracer.start_span("outer", kind=SpanKind.SERVER, attributes={"run_id": "r-1", "attempt": 2}) as outer:
        assert current_span() is outer
        with tel.tracer.start_span("inner") as inner:
            assert current_span() is inner
        assert current_span() is outer
        assert not inner.is_recording and outer.is_recording
    assert current_span() is None
    spans = by_name(tel)
    assert spans["inner"]["parent_id"] == spans["outer"]["span_id"]
    assert spans["inner"]["trace_id"] == spans["outer"]["trace_id"]
    assert spans["outer"]["kind"] == "server"
    assert spans["outer"]["attributes"] == {"run_id": "r-1", "attempt": 2}
    assert "parent_id" not in spans["outer"]


def test_without_with_the_caller_ends_and_nothing_becomes_current(tel: Telemetry) -> None:
    span = tel.tracer.start_span("manual")
    assert current_span() is None
    assert tel.finished_spans() == []
    span.end()
    span.end()
    assert len(tel.finished_spans()) == 1


def test_explicit_parent_span_or_remote_context(tel: Telemetry) -> None:
    root = tel.tracer.start_span("root")
    child = tel.tracer.start_span("child", parent=root)
    remote = extract({"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "tracestate": "a=1"})
    with tel.tracer.start_span("remote-child", parent=remote):
        pass
    child.end()
    root.end()
    spans = by_name(tel)
    assert spans["child"]["parent_id"] == root.span_id
    assert spans["remote-child"]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert spans["remote-child"]["parent_id"] == "00f067aa0ba902b7"
    assert spans["remote-child"]["parent_is_remote"] is True
    assert spans["remote-child"]["flags"] == 0, "the sampled bit is carried, not forced"
    assert spans["remote-child"]["trace_state"] == "a=1"


def test_exception_in_with_block_is_recorded_and_reraised(tel: Telemetry) -> None:
    with pytest.raises(KeyError):
        with tel.tracer.start_span("fails"):
            raise KeyError("missing step")
    span = tel.finished_spans()[0]
    assert span["status"] == "error"
    assert span["error"] == "'missing step'"
    event = span["events"][0]
    assert event["name"] == "exception"
    assert event["attributes"] == {"exception.type": "KeyError", "exception.message": "'missing step'"}


def test_status_events_and_record_error(tel: Telemetry) -> None:
    with tel.tracer.start_span("s") as s:
        s.set_status(StatusCode.OK, "fine")
        s.add_event("cache.miss", {"key": "k", "hit": False})
        s.set_attributes({"a": 1.5, "b": "x"})
    with tel.tracer.start_span("e") as e:
        e.record_error("plain message")
    spans = by_name(tel)
    assert spans["s"]["status"] == "ok" and spans["s"]["status_message"] == "fine"
    assert spans["s"]["events"][0]["attributes"] == {"key": "k", "hit": False}
    assert spans["s"]["attributes"] == {"a": 1.5, "b": "x"}
    assert spans["e"]["status"] == "error" and spans["e"]["error"] == "plain message"


def test_attribute_types_and_errors(tel: Telemetry) -> None:
    with tel.tracer.start_span("types") as s:
        s.set_attribute("flag", True)
        s.set_attribute("count", 2**63 - 1)
        s.set_attribute("neg", -(2**63))
        with pytest.raises(ValueError, match="int64"):
            s.set_attribute("huge", 2**63)
        with pytest.raises(TypeError, match="'payload'|\"payload\""):
            s.set_attribute("payload", [1, 2])
        with pytest.raises(TypeError, match="keys must be str"):
            s.set_attribute(1, "x")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="\"nested\""):
            s.set_attributes({"ok": 1, "nested": {"a": 1}})
    with pytest.raises(TypeError, match="\"when\""):
        tel.tracer.start_span("bad", attributes={"when": object()})
    with pytest.raises(TypeError):
        tel.tracer.start_span("bad", parent="not a span")  # type: ignore[arg-type]
    attrs = tel.finished_spans()[0]["attributes"]
    assert attrs["flag"] is True, "bool stays bool, not int"
    assert attrs["count"] == 2**63 - 1 and attrs["neg"] == -(2**63)
    assert "ok" not in attrs, "set_attributes is all or nothing"


def test_current_span_follows_asyncio_tasks(tel: Telemetry) -> None:
    async def step(i: int) -> str:
        with tel.tracer.start_span(f"step-{i}") as s:
            await asyncio.sleep(0.01 * (3 - i))
            assert current_span() is s
            return s.span_id

    async def main() -> None:
        with tel.tracer.start_span("run") as run:
            ids = await asyncio.gather(*(asyncio.create_task(step(i)) for i in range(3)))
            assert current_span() is run
            assert len(set(ids)) == 3

    asyncio.run(main())
    spans = by_name(tel)
    for i in range(3):
        assert spans[f"step-{i}"]["parent_id"] == spans["run"]["span_id"]


def test_traced_decorator_for_functions_and_coroutines(tel: Telemetry) -> None:
    @tel.tracer.traced(kind=SpanKind.CONSUMER)
    def work(x: int) -> int:
        assert current_span() is not None
        return x * 2

    @tel.tracer.traced("async-work")
    async def async_work() -> str:
        await asyncio.sleep(0)
        return current_span().span_id  # type: ignore[union-attr]

    @tel.tracer.traced()
    def broken() -> None:
        raise RuntimeError("nope")

    assert work(2) == 4
    span_id = asyncio.run(async_work())
    with pytest.raises(RuntimeError):
        broken()
    spans = by_name(tel)
    assert spans["test_traced_decorator_for_functions_and_coroutines.<locals>.work"]["kind"] == "consumer"
    assert spans["async-work"]["span_id"] == span_id
    assert spans["test_traced_decorator_for_functions_and_coroutines.<locals>.broken"]["status"] == "error"


def test_threads_start_without_a_current_span_unless_the_context_is_copied(tel: Telemetry) -> None:
    seen = {}

    def worker(key: str) -> None:
        span = current_span()
        seen[key] = span.span_id if span else None

    with tel.tracer.start_span("parent") as parent:
        t = threading.Thread(target=worker, args=("plain",))
        t.start()
        t.join()
        ctx = contextvars.copy_context()
        t = threading.Thread(target=ctx.run, args=(worker, "copied"))
        t.start()
        t.join()
    assert seen == {"plain": None, "copied": parent.span_id}


def test_spans_from_many_threads_all_arrive(tel: Telemetry) -> None:
    def worker() -> None:
        for _ in range(200):
            with tel.tracer.start_span("t"):
                pass

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(tel.finished_spans()) == 1600


def test_inject_uses_the_current_span_and_dual_writes_events(tel: Telemetry) -> None:
    assert inject() == {}, "no current span: nothing to write"
    with tel.tracer.start_span("producer") as span:
        headers = {"TraceParent": "stale", "other": "kept"}
        event = {"run_id": "r-1", "trace_state": "stale"}
        out = inject(headers, event=event)
        assert out is headers
        assert headers == {"other": "kept", "traceparent": span.traceparent}
        assert event == {"run_id": "r-1", "trace_parent": span.traceparent}
    remote = extract({"traceparent": span.traceparent})
    assert remote is not None and remote.span_id == span.span_id


TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_extract_reads_values_as_the_carrier_holds_them() -> None:
    # bytes are read as UTF-8; a list is one field per item; other names are not read.
    got = extract({"TraceParent": TP.encode(), "content-length": 12, "tracestate": ["a=1", "b=2"]})
    assert got is not None and got.trace_state == "a=1,b=2"
    # A traceparent that is not text is malformed: no parent, no error; the event's copy is used.
    for value in (5, None, {"v": TP}, b"\xff\xfe", [TP, 7]):
        assert extract({"traceparent": value}) is None, value
    fallback = extract({"traceparent": 5}, {"trace_parent": TP, "trace_state": 3})
    assert fallback is not None and fallback.span_id == "00f067aa0ba902b7" and fallback.trace_state == ""
    assert extract({}, {"trace_parent": 12}) is None
    with pytest.raises(TypeError, match="event must be a mapping"):
        extract({}, ["trace_parent"])  # type: ignore[arg-type]


def test_inject_replaces_every_spelling_and_a_previous_hops_tracestate() -> None:
    parent = extract({"traceparent": TP})
    assert parent is not None
    headers = {"TRACEPARENT": "x", "TraceState": "old=1", "tracestate": "old=2", "other": "kept"}
    event: Dict[str, Any] = {"trace_parent": "x", "trace_state": "old=1"}
    inject(headers, span=parent, event=event)
    assert headers == {"other": "kept", "traceparent": TP}
    assert event == {"trace_parent": TP}
    with pytest.raises(TypeError, match="mutable mapping"):
        inject(("traceparent",), span=parent)  # type: ignore[type-var]
