"""Trace context on NATS messages: ``inject`` writes it, ``extract`` reads it.

Carriers are what Python workers actually hold: plain dicts, nats-py message headers
(``msg.headers``, a dict that may be None), mappings whose values are a list of strings
(a NATS header can repeat), and DagNats event dicts with ``trace_parent`` /
``trace_state`` fields. Names are matched case-insensitively by the shared Rust core.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, MutableMapping, Optional, TypeVar, Union, overload

from . import _native
from ._native import Span, SpanContext
from .tracing import current_span

_Headers = TypeVar("_Headers", bound=MutableMapping[str, Any])


def extract(
    headers: Optional[Mapping[str, Any]], event: Optional[Mapping[str, Any]] = None
) -> Optional[SpanContext]:
    """The remote parent carried by ``headers`` (first) or the ``event`` fields
    (``trace_parent``/``trace_state``), or None. A malformed value, or one that is not a
    ``str`` (``bytes`` are read as UTF-8), is ignored: the next span then starts a new
    trace. ``headers`` or ``event`` that is not a mapping raises TypeError."""
    return _native.extract(headers, event)


@overload
def inject(
    headers: None = None,
    *,
    span: Optional[Union[Span, SpanContext]] = None,
    event: Optional[MutableMapping[str, Any]] = None,
) -> Dict[str, str]: ...


@overload
def inject(
    headers: _Headers,
    *,
    span: Optional[Union[Span, SpanContext]] = None,
    event: Optional[MutableMapping[str, Any]] = None,
) -> _Headers: ...


def inject(
    headers: Optional[MutableMapping[str, Any]] = None,
    *,
    span: Optional[Union[Span, SpanContext]] = None,
    event: Optional[MutableMapping[str, Any]] = None,
) -> MutableMapping[str, Any]:
    """Writes ``traceparent`` (and ``tracestate``) of ``span`` (default: the current
    span) into ``headers`` (a new dict when None) and returns it. Existing entries of
    those names, in any letter case, are replaced. With ``event``, also writes its
    ``trace_parent``/``trace_state`` fields (dual write). Without a span, nothing is
    written."""
    source = span if span is not None else current_span()
    if source is None:
        return {} if headers is None else headers
    context = source if isinstance(source, SpanContext) else source.span_context
    return _native.inject(context, headers, event)
