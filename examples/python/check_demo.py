"""Reads the demo's trace back from TELEMETRY and checks it (DEMO_CHECK=1 in CI).

    python check_demo.py count TRACE_ID                 # spans of the trace on TELEMETRY
    python check_demo.py check TRACE_ID --received FILE  # assert the quickstart's promises
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
from typing import Any, Dict, List

import nats


async def spans_of(trace_id: str) -> List[Dict[str, Any]]:
    nc = await nats.connect(os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    try:
        js = nc.jetstream()
        info = await js.stream_info("TELEMETRY")
        sub = await js.subscribe("telemetry.spans.>", ordered_consumer=True)
        spans = []
        seen = 0
        while seen < info.state.messages:
            try:
                msg = await sub.next_msg(timeout=5)
            except nats.errors.TimeoutError:
                break
            seen = msg.metadata.sequence.stream
            body = as_record(msg.subject, json.loads(msg.data))
            if body.get("trace_id") == trace_id:
                spans.append(body)
            if seen >= info.state.last_seq:
                break
        return spans
    finally:
        await nc.close()


def _hex(b64: str) -> str:
    return base64.b64decode(b64).hex()


def _value(v: Dict[str, Any]) -> Any:
    if "intValue" in v:
        return int(v["intValue"])
    for key in ("stringValue", "doubleValue", "boolValue"):
        if key in v:
            return v[key]
    return None


def _attributes(kvs: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {kv["key"]: _value(kv.get("value", {})) for kv in kvs}


def as_record(subject: str, body: Dict[str, Any]) -> Dict[str, Any]:
    """A span in the engine's dialect (a bare OTLP Span in protobuf's JSON mapping: base64
    ids, enum names, no service) as the record the checks read; a record as it is."""
    if "traceId" not in body:
        return body
    names = {"SPAN_KIND_SERVER": "server", "SPAN_KIND_CLIENT": "client", "SPAN_KIND_PRODUCER": "producer",
             "SPAN_KIND_CONSUMER": "consumer"}
    statuses = {"STATUS_CODE_OK": "ok", "STATUS_CODE_ERROR": "error"}
    record: Dict[str, Any] = {
        "trace_id": _hex(body["traceId"]),
        "span_id": _hex(body["spanId"]),
        "name": body["name"],
        "service": subject.split(".")[2],
        "kind": names.get(body.get("kind", ""), "internal"),
        "start_time": int(body["startTimeUnixNano"]),
        "status": statuses.get(body.get("status", {}).get("code", ""), "unset"),
        "error": body.get("status", {}).get("message", ""),
        "attributes": _attributes(body.get("attributes", [])),
        "events": [{"name": e["name"], "attributes": _attributes(e.get("attributes", []))}
                   for e in body.get("events", [])],
        "format": "engine",
    }
    if body.get("parentSpanId"):
        record["parent_id"] = _hex(body["parentSpanId"])
        record["parent_is_remote"] = body.get("flags", 0) & 0x300 == 0x300
    return record


def check(trace_id: str, spans: List[Dict[str, Any]], received_file: str, no_receiver: bool) -> None:
    by_name: Dict[str, List[Dict[str, Any]]] = {}
    for s in spans:
        by_name.setdefault(s["name"], []).append(s)
    ids = {s["span_id"]: s for s in spans}

    def one(name: str) -> Dict[str, Any]:
        assert len(by_name.get(name, [])) == 1, f"expected one {name} span, got {len(by_name.get(name, []))}"
        return by_name[name][0]

    assert {s["service"] for s in spans} == {"engine", "node-worker", "c-worker", "rust-worker"}, "four services"
    formats = {s["service"]: s.get("format", "records") for s in spans}
    expected_formats = os.environ.get("DEMO_FORMATS", "")
    if expected_formats:
        want = dict(pair.split("=") for pair in expected_formats.split(","))
        assert formats == want, f"dialects written: {formats}, expected {want}"
    run, dispatch, complete = one("engine.run"), one("engine.dispatch"), one("engine.complete")
    transform, validate, compress = one("node.transform"), one("node.validate"), one("c.compress")
    assert "parent_id" not in run, "engine.run is the root"
    assert dispatch["parent_id"] == run["span_id"]
    assert transform["parent_id"] == dispatch["span_id"] and transform["parent_is_remote"], "engine -> node over NATS"
    assert validate["parent_id"] == transform["span_id"], "node's nested span through AsyncLocalStorage"
    assert compress["parent_id"] == transform["span_id"] and compress["parent_is_remote"], "node -> C over NATS"
    attempts = sorted(by_name.get("rust.publishArtifact", []), key=lambda s: s["attributes"]["attempt"])
    assert [a["attributes"]["attempt"] for a in attempts] == [1, 2], "the failing step and its retry"
    assert all(a["parent_id"] == compress["span_id"] and a["parent_is_remote"] for a in attempts), "C -> Rust over NATS"
    assert attempts[0]["status"] == "error" and attempts[0]["error"], "the first attempt is an error span"
    assert attempts[0]["events"][0]["name"] == "exception"
    assert attempts[1]["status"] == "ok", "the retry succeeds"
    assert complete["parent_id"] == attempts[1]["span_id"], "Rust -> engine over NATS"
    assert all(s.get("parent_id") is None or s["parent_id"] in ids for s in spans), "no orphans"
    if not no_receiver:
        with open(received_file, encoding="utf-8") as f:
            received = set(json.load(f)["traces"].get(trace_id, []))
        missing = set(ids) - received
        assert not missing, f"the receiver did not see {sorted(missing)}"
    dialects = ", ".join(f"{svc} {fmt}" for svc, fmt in sorted(formats.items()))
    print(f"demo check: {len(spans)} spans in one trace {trace_id} across 4 languages ({dialects}); "
          f"parent chain, error span and retry as expected" + ("" if no_receiver else "; the OTLP receiver saw every span"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["count", "check"])
    parser.add_argument("trace_id")
    parser.add_argument("--received", default="")
    parser.add_argument("--no-receiver", action="store_true")
    args = parser.parse_args()
    spans = asyncio.run(spans_of(args.trace_id))
    if args.mode == "count":
        print(len(spans))
        return
    try:
        check(args.trace_id, spans, args.received, args.no_receiver)
    except AssertionError as e:
        print(f"demo check FAILED: {e}", file=sys.stderr)
        for s in sorted(spans, key=lambda s: str(s["start_time"])):
            print(json.dumps(s), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
