"""Distributed tracing over NATS for DagNats workers.

One Rust core (shared with the Node, C and Rust packages) parses W3C trace context and
publishes spans, logs and metric points to the JetStream stream ``TELEMETRY``; this
package adds what is Python's own: the current span in a ``contextvars.ContextVar``
(so it follows asyncio tasks), ``with`` blocks, a decorator and a ``logging.Handler``.

    >>> from dagnats_observe import Telemetry, SpanKind
    >>> tel = Telemetry.in_memory("docs")
    >>> with tel.tracer.start_span("work", kind=SpanKind.SERVER, attributes={"attempt": 2}) as span:
    ...     span.add_event("cache.miss")
    >>> tel.finished_spans()[0]["attributes"]
    {'attempt': 2}
"""

from __future__ import annotations

import os

from . import _native
from ._native import (
    ConnectError,
    Counter,
    FlushTimeoutError,
    Gauge,
    Histogram,
    Logger,
    Metrics,
    Span,
    SpanContext,
    SpanKind,
    StatusCode,
    Telemetry,
    TelemetryError,
    TelemetryFormat,
    Tracer,
    validate_connect_options,
)
from .logging_handler import TelemetryHandler
from .propagation import extract, inject
from .tracing import current_span, traced

__version__: str = _native.__version__

__all__ = [
    "ConnectError",
    "Counter",
    "FlushTimeoutError",
    "Gauge",
    "Histogram",
    "Logger",
    "Metrics",
    "Span",
    "SpanContext",
    "SpanKind",
    "StatusCode",
    "Telemetry",
    "TelemetryError",
    "TelemetryFormat",
    "TelemetryHandler",
    "Tracer",
    "current_span",
    "extract",
    "inject",
    "traced",
    "validate_connect_options",
]

# A forked child inherits the id generator's state; reseed it so parent and child never
# produce the same ids.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_native.after_fork_in_child)
