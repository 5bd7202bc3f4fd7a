"""The quickstart's engine, in Python: starts a run, dispatches its first step to the
Node worker as a DagNats-style task event (headers and event fields both carry the trace
context), and waits until the Rust worker reports the run done.

    NATS_URL=... python engine.py

Prints ``TRACE_ID=...`` and ``RUN_ID=...`` for the demo script.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid

import nats

from dagnats_observe import SpanKind, StatusCode, Telemetry, extract, inject

FIRST_STEP = "dagnats.demo.node"
DONE = "dagnats.demo.done"


async def run(tel: Telemetry, url: str) -> None:
    nc = await nats.connect(url)
    done = await nc.subscribe(DONE)
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    with tel.tracer.start_span("engine.run", kind=SpanKind.INTERNAL, attributes={"run_id": run_id}) as root:
        print(f"TRACE_ID={root.trace_id}")
        print(f"RUN_ID={run_id}", flush=True)
        tel.logger.info("run started", run_id=run_id)
        with tel.tracer.start_span("engine.dispatch", kind=SpanKind.PRODUCER, attributes={"run_id": run_id, "step_id": "transform"}):
            event = {"run_id": run_id, "step_id": "transform", "payload": {"rows": 3}}
            headers = inject(event=event)  # the dual write: headers and event fields
            await nc.publish(FIRST_STEP, json.dumps(event).encode(), headers=headers)
            await nc.flush()

        msg = await done.next_msg(timeout=60)
        reply = json.loads(msg.data)
        parent = extract(msg.headers, reply)
        with tel.tracer.start_span("engine.complete", kind=SpanKind.CONSUMER, parent=parent, attributes={"run_id": run_id}) as span:
            span.set_status(StatusCode.OK)
            tel.metrics.counter("runs.completed").add(1)
        root.set_status(StatusCode.OK)
    await nc.close()
    print(f"engine: {run_id} completed", flush=True)


def main() -> None:
    url = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
    with Telemetry.connect(url, "engine") as tel:
        asyncio.run(run(tel, url))


if __name__ == "__main__":
    main()
