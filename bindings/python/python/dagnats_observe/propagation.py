"""Trace context on NATS messages: ``inject`` writes it, ``extract`` reads it.

Carriers are what Python workers actually hold: plain dicts, nats-py message headers
(``msg.headers``, a dict that may be None), mappings whose values are a list of strings
(a NATS header can repeat), and DagNats event dicts with ``trace_parent`` /
``trace_state`` fields. Names are matched case-insensitively by the shared Rust core.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, MutableMapping, Optional, Tuple, TypeVar, Union, overload

from . import _native
from ._native import Span, SpanContext
from .tracing import current_span

_NAMES = ("traceparent", "tracestate")

_Headers = TypeVar("_Headers", bound=MutableMapping[str, Any])


def _pairs(headers: Optional[Mapping[str, Any]]) -> List[Tuple[str, str]]:
    if headers is None:
        return []
    if not isinstance(headers, Mapping) and not hasattr(headers, "items"):
        raise TypeError(f"headers must be a mapping, got {type(headers).__name__}")
    pairs: List[Tuple[str, str]] = []
    for name, value in headers.items():
        if not isinstance(name, str):
            continue
        if isinstance(value, str):
            pairs.append((name, value))
        elif isinstance(value, (list, tuple)):
            pairs.extend((name, v) for v in value if isinstance(v, str))
        elif isinstance(value, bytes):
            pairs.append((name, value.decode("utf-8", "replace")))
    return pairs


def extract(
    headers: Optional[Mapping[str, Any]], event: Optional[Mapping[str, Any]] = None
) -> Optional[SpanContext]:
    """The remote parent carried by ``headers`` (first) or the ``event`` fields
    (``trace_parent``/``trace_state``), or None. A malformed value is ignored: the next
    span then starts a new trace."""
    trace_parent = trace_state = None
    if event is not None:
        tp, ts = event.get("trace_parent"), event.get("trace_state")
        trace_parent = tp if isinstance(tp, str) else None
        trace_state = ts if isinstance(ts, str) else None
    return _native.extract_pairs(_pairs(headers), trace_parent, trace_state)


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
    ``trace_parent``/``trace_state`` fields (dual write)."""
    out: MutableMapping[str, Any] = {} if headers is None else headers
    source = span if span is not None else current_span()
    if source is None:
        return out
    context = source if isinstance(source, SpanContext) else source.span_context
    pairs = _native.header_pairs(context)
    for stale in [k for k in list(out.keys()) if isinstance(k, str) and k.lower() in _NAMES]:
        del out[stale]
    for name, value in pairs:
        out[name] = value
    if event is not None:
        values = dict(pairs)
        event["trace_parent"] = values["traceparent"]
        if "tracestate" in values:
            event["trace_state"] = values["tracestate"]
        else:
            event.pop("trace_state", None)
    return out
