"""The shared W3C vectors, through the Python API (extract and inject)."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from dagnats_observe import extract, inject

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def as_mapping(pairs: List[List[str]]) -> Dict[str, List[str]]:
    """Pairs in message order to a mapping of name -> list of values (a NATS header can
    repeat; differently cased names stay separate keys)."""
    out: Dict[str, List[str]] = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out


def check(case: Dict[str, Any], got: Any) -> None:
    if not case["valid"]:
        assert got is None, case["name"]
        return
    assert got is not None, case["name"]
    assert got.trace_id == case["trace_id"]
    assert got.span_id == case["span_id"]
    assert got.trace_flags == case["flags"]
    assert got.trace_state == case["tracestate"]
    assert got.is_remote


def test_traceparent_vectors(vectors: Dict[str, Any]) -> None:
    for case in vectors["traceparent"]:
        check(case, extract(as_mapping(case["headers"])))


def test_event_vectors(vectors: Dict[str, Any]) -> None:
    for case in vectors["event"]:
        check(case, extract(as_mapping(case["headers"]), case["event"]))


def test_tracestate_vectors(vectors: Dict[str, Any]) -> None:
    for case in vectors["tracestate"]:
        got = extract({"traceparent": TRACEPARENT, "tracestate": case["values"]})
        assert got is not None
        assert got.trace_state == (case["normalized"] if case["valid"] else ""), case["name"]


def test_format_vectors_round_trip_through_inject(vectors: Dict[str, Any]) -> None:
    for case in vectors["format"]:
        parent = extract({"traceparent": case["traceparent"]})
        assert parent is not None
        assert (parent.trace_id, parent.span_id, parent.trace_flags) == (case["trace_id"], case["span_id"], case["flags"])
        assert inject(span=parent) == {"traceparent": case["traceparent"]}


@pytest.mark.parametrize("carrier", [None, 42, "traceparent"])
def test_extract_rejects_what_is_not_a_mapping(carrier: Any) -> None:
    if carrier is None:
        assert extract(None) is None
    else:
        with pytest.raises(TypeError):
            extract(carrier)
