"""End to end with a real nats-server: a producer publishes with nats-py carrying the
injected header; a consumer extracts it and starts a child span; both spans arrive on
TELEMETRY with one trace id and the right parent, and a log written inside the child
carries its ids."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, List

import nats

from dagnats_observe import SpanKind, Telemetry, extract, inject


async def read_telemetry(nats_url: str, want: int) -> List[Dict[str, Any]]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe("telemetry.>", ordered_consumer=True)
        out = []
        while len(out) < want:
            msg = await sub.next_msg(timeout=10)
            out.append({"subject": msg.subject, "body": json.loads(msg.data), "headers": msg.headers or {}})
        return out
    finally:
        await nc.close()


def test_trace_crosses_a_nats_message(nats_url: str) -> None:
    engine = Telemetry.connect(nats_url, "py-engine")
    worker = Telemetry.connect(nats_url, service="py-worker")

    async def run() -> None:
        nc = await nats.connect(nats_url)
        sub = await nc.subscribe("dagnats.tasks")
        with engine.tracer.start_span("engine.dispatch", kind=SpanKind.PRODUCER, attributes={"run_id": "r-7"}):
            event = {"run_id": "r-7", "step_id": "build"}
            headers = inject(event=event)
            await nc.publish("dagnats.tasks", json.dumps(event).encode(), headers=headers)
        msg = await sub.next_msg(timeout=5)
        parent = extract(msg.headers, json.loads(msg.data))
        assert parent is not None and parent.is_remote
        with worker.tracer.start_span("worker.executeTask", kind=SpanKind.CONSUMER, parent=parent, attributes={"run_id": "r-7"}):
            worker.logger.info("executing", step_id="build")
        await nc.close()

    asyncio.run(run())
    engine.flush(timeout=10)
    worker.close(timeout=10)
    engine.close()

    records = asyncio.run(read_telemetry(nats_url, 3))
    spans = {r["body"]["service"]: r for r in records if r["subject"].startswith("telemetry.spans.")}
    log = next(r["body"] for r in records if r["subject"].startswith("telemetry.logs."))
    parent, child = spans["py-engine"], spans["py-worker"]
    assert parent["subject"] == "telemetry.spans.py-engine.r-7"
    assert child["body"]["trace_id"] == parent["body"]["trace_id"]
    assert child["body"]["parent_id"] == parent["body"]["span_id"]
    assert child["body"]["parent_is_remote"] is True
    assert child["headers"]["Nats-Msg-Id"] == f'{child["body"]["trace_id"]}.{child["body"]["span_id"]}'
    assert log["trace_id"] == child["body"]["trace_id"] and log["span_id"] == child["body"]["span_id"]


def test_baggage_survives_a_hop_through_a_worker(nats_url: str) -> None:
    """The engine (or an OpenTelemetry service) sends `baggage` beside `traceparent`; a
    worker extracts it, starts a child span and hands the message on with the incoming
    headers: the next hop receives the same baggage, once, in the lowercase name."""
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    baggage = "userId=alice,serverNode=DF%2028,isProduction=false;ttl=30"
    worker = Telemetry.in_memory("py-worker")

    async def run() -> Dict[str, str]:
        nc = await nats.connect(nats_url)
        tasks = await nc.subscribe("dagnats.tasks")
        results = await nc.subscribe("dagnats.next")
        await nc.publish(
            "dagnats.tasks",
            b"{}",
            headers={"traceparent": traceparent, "tracestate": "congo=t61rcWkgMzE", "baggage": baggage, "run": "r-1"},
        )
        msg = await tasks.next_msg(timeout=5)
        parent = extract(msg.headers)
        assert parent is not None and parent.baggage == baggage
        with worker.tracer.start_span("worker.executeTask", kind=SpanKind.CONSUMER, parent=parent) as span:
            assert span.span_context.baggage == baggage
            # Handed on with the headers it came with: the trace headers replaced.
            headers = inject(dict(msg.headers or {}), span=span)
            await nc.publish("dagnats.next", b"{}", headers=headers)
        out = await results.next_msg(timeout=5)
        await nc.close()
        return dict(out.headers or {})

    received = asyncio.run(run())
    assert [name for name in received if name.lower() == "baggage"] == ["baggage"]
    assert received["baggage"] == baggage
    assert received["run"] == "r-1" and received["tracestate"] == "congo=t61rcWkgMzE"
    (child,) = worker.finished_spans()
    assert received["traceparent"] == f"00-{child['trace_id']}-{child['span_id']}-01"
    assert child["parent_id"] == "00f067aa0ba902b7"
    # A message without baggage is handed on without one.
    assert "baggage" not in inject({"Baggage": "stale=1"}, span=extract({"traceparent": traceparent}))
