"""The shared carrier vectors (testdata/carrier-vectors.json) through extract and inject:
header values of any type read by the core's one rule, and the dual write."""

from __future__ import annotations

import json
import pathlib
from typing import Any, Dict, List

import pytest

from dagnats_observe import extract, inject

ROOT = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def cases() -> Dict[str, List[Dict[str, Any]]]:
    with open(ROOT / "testdata" / "carrier-vectors.json", encoding="utf-8") as f:
        data: Dict[str, List[Dict[str, Any]]] = json.load(f)
    return data


def as_dict(pairs: List[List[Any]]) -> Dict[str, Any]:
    """Pairs as a dict in order (the cases never repeat one exact name)."""
    out: Dict[str, Any] = {}
    for name, value in pairs:
        assert name not in out, name
        out[name] = value
    return out


def test_extract_cases(cases: Dict[str, List[Dict[str, Any]]]) -> None:
    for case in cases["extract"]:
        got = extract(as_dict(case["headers"]), case.get("event"))
        if not case["valid"]:
            assert got is None, case["name"]
            continue
        assert got is not None, case["name"]
        assert (got.span_id, got.trace_state, got.is_remote) == (case["span_id"], case["tracestate"], True), case["name"]
        assert got.baggage == case.get("baggage", ""), case["name"]


def test_inject_cases(cases: Dict[str, List[Dict[str, Any]]]) -> None:
    for case in cases["inject"]:
        source = {"traceparent": case["traceparent"]}
        if case["tracestate"]:
            source["tracestate"] = case["tracestate"]
        if case.get("baggage"):
            source["baggage"] = case["baggage"]
        context = extract(source)
        assert context is not None, case["name"]
        assert context.baggage == case.get("baggage", ""), case["name"]
        headers = as_dict(case["headers"])
        event = dict(case["event"])
        assert inject(headers, span=context, event=event) is headers
        assert list(headers.items()) == [tuple(p) for p in case["headers_after"]], case["name"]
        assert event == case["event_after"], case["name"]
