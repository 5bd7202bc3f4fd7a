#!/usr/bin/env python3
"""The engine's strict reader of TELEMETRY messages, independent of our Rust code.

Spans are parsed as the engine parses them: protobuf's JSON parser at its defaults
(``google.protobuf.json_format.Parse``, unknown keys rejected) into the official
``opentelemetry.proto.trace.v1.Span`` of the ``opentelemetry-proto`` package. Logs are
checked key by key against the flat object of the engine's dialect (engine-dialect.md).

Input, one of:

  stdin        (when no file is named) one JSON object per line: {"subject": "telemetry.spans....", "body": "<the
               message body as a string>"}; the subject says span or log
  --span FILE  a file holding one span message body (repeatable)
  --log FILE   a file holding one log message body (repeatable)

Prints one JSON verdict on stdout:

  {"ok": bool, "spans": [...], "logs": [...], "errors": [...]}

each span as the parser read it (ids in hex, attributes as {"key": {"type", "value"}},
events, kind and status names), each log as {"subject", "record": the parsed object,
"errors"}; every broken rule is in
"errors" (and in its record's "errors"). Exits 0 only when at least one record was read
and none broke a rule; 1 otherwise; 2 on bad usage.

Requirements (pinned in testkit/engine-strict-reader.requirements.txt): protobuf and
opentelemetry-proto.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any, Dict, List, Optional, Tuple

from google.protobuf import json_format
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

# Standard base64 with padding, as Go's protojson writes bytes: 16 bytes -> 24
# characters, 8 bytes -> 12.
TRACE_ID_B64 = re.compile(r"^[A-Za-z0-9+/]{22}==$")
SPAN_ID_B64 = re.compile(r"^[A-Za-z0-9+/]{11}=$")
DECIMAL = re.compile(r"^(0|[1-9][0-9]*)$")
SIGNED_DECIMAL = re.compile(r"^-?(0|[1-9][0-9]*)$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
LOG_KEYS = {"timestamp", "severity", "body", "attributes", "traceId", "spanId", "serviceName"}
LOG_REQUIRED = {"timestamp", "severity", "body", "serviceName"}
SEVERITIES = {"trace", "debug", "info", "warn", "error"}


def attribute_values(raw_attributes: Any, where: str, errors: List[str]) -> Dict[str, Dict[str, Any]]:
    """The raw JSON attributes as {key: {"type", "value"}}, checking the mapping's
    spelling (64-bit integers as decimal strings, one value kind per attribute)."""
    out: Dict[str, Dict[str, Any]] = {}
    if raw_attributes is None:
        return out
    if not isinstance(raw_attributes, list):
        errors.append(f"{where}: attributes is not a list")
        return out
    for a in raw_attributes:
        if not isinstance(a, dict) or set(a) != {"key", "value"} or not isinstance(a.get("value"), dict):
            errors.append(f"{where}: attribute {a!r} is not {{key, value}}")
            continue
        value = a["value"]
        if len(value) != 1:
            errors.append(f"{where}: attribute {a['key']!r} has {len(value)} value kinds")
            continue
        ((kind, v),) = value.items()
        if kind == "stringValue":
            out[a["key"]] = {"type": "string", "value": v}
        elif kind == "intValue":
            if not (isinstance(v, str) and SIGNED_DECIMAL.match(v)):
                errors.append(f"{where}: intValue of {a['key']!r} is {v!r}, not a decimal string")
            out[a["key"]] = {"type": "int", "value": int(v) if isinstance(v, (str, int)) else v}
        elif kind == "doubleValue":
            if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                errors.append(f"{where}: doubleValue of {a['key']!r} is {v!r}")
            if isinstance(v, str) and v not in ("NaN", "Infinity", "-Infinity"):
                errors.append(f"{where}: doubleValue of {a['key']!r} is the string {v!r}")
            # A non-finite double stays the mapping's string: the verdict is JSON, which has
            # no literal for it.
            out[a["key"]] = {"type": "double", "value": v if isinstance(v, (str, bool)) else float(v)}
        elif kind == "boolValue":
            if not isinstance(v, bool):
                errors.append(f"{where}: boolValue of {a['key']!r} is {v!r}")
            out[a["key"]] = {"type": "bool", "value": v}
        else:
            errors.append(f"{where}: attribute {a['key']!r} has value kind {kind!r}")
    return out


def check_span(subject: str, body: str) -> Tuple[Dict[str, Any], List[str]]:
    errors: List[str] = []
    where = subject or "span"
    span = Span()
    try:
        json_format.Parse(body, span)  # ignore_unknown_fields=False: the engine's reader
    except json_format.ParseError as e:
        return {"subject": subject, "errors": [f"{where}: protobuf rejects the body: {e}"]}, [
            f"{where}: protobuf rejects the body: {e}"
        ]
    raw = json.loads(body)
    # What the parser would accept but the dialect's writer never writes (and what a hex
    # id would turn into: 24 or 12 wrong bytes without an error).
    if len(span.trace_id) != 16 or not TRACE_ID_B64.match(str(raw.get("traceId", ""))):
        errors.append(f"{where}: traceId {raw.get('traceId')!r} is not 16 bytes in standard padded base64")
    if len(span.span_id) != 8 or not SPAN_ID_B64.match(str(raw.get("spanId", ""))):
        errors.append(f"{where}: spanId {raw.get('spanId')!r} is not 8 bytes in standard padded base64")
    if "parentSpanId" in raw and (len(span.parent_span_id) != 8 or not SPAN_ID_B64.match(str(raw["parentSpanId"]))):
        errors.append(f"{where}: parentSpanId {raw['parentSpanId']!r} is not 8 bytes in standard padded base64")
    if not span.name:
        errors.append(f"{where}: empty name")
    for key in ("startTimeUnixNano", "endTimeUnixNano"):
        if not (isinstance(raw.get(key), str) and DECIMAL.match(raw[key])):
            errors.append(f"{where}: {key} is {raw.get(key)!r}, not a decimal string")
    if span.end_time_unix_nano < span.start_time_unix_nano:
        errors.append(f"{where}: ends before it starts")
    if not (isinstance(raw.get("kind"), str) and raw["kind"].startswith("SPAN_KIND_")):
        errors.append(f"{where}: kind {raw.get('kind')!r} is not an enum name")
    if "status" not in raw:
        errors.append(f"{where}: no status (the engine always writes one)")
    elif "code" in raw["status"] and not str(raw["status"]["code"]).startswith("STATUS_CODE_"):
        errors.append(f"{where}: status code {raw['status']['code']!r} is not an enum name")
    attributes = attribute_values(raw.get("attributes"), where, errors)
    events = []
    for i, e in enumerate(raw.get("events") or []):
        if not (isinstance(e.get("timeUnixNano"), str) and DECIMAL.match(e["timeUnixNano"])):
            errors.append(f"{where}: event {i} timeUnixNano is {e.get('timeUnixNano')!r}")
        events.append({"name": e.get("name", ""), "attributes": attribute_values(e.get("attributes"), f"{where} event {i}", errors)})
    parsed = {
        "subject": subject,
        "traceId": span.trace_id.hex(),
        "spanId": span.span_id.hex(),
        "parentSpanId": span.parent_span_id.hex() or None,
        "name": span.name,
        "kind": Span.SpanKind.Name(span.kind),
        "startTimeUnixNano": span.start_time_unix_nano,
        "endTimeUnixNano": span.end_time_unix_nano,
        "attributes": attributes,
        "events": events,
        "status": {"code": Status.StatusCode.Name(span.status.code), "message": span.status.message},
        "keys": sorted(raw),
        "errors": errors,
    }
    return parsed, errors


def check_log(subject: str, body: str) -> Tuple[Dict[str, Any], List[str]]:
    errors: List[str] = []
    where = subject or "log"
    try:
        raw = json.loads(body)
    except ValueError as e:
        return {"subject": subject, "errors": [f"{where}: not JSON: {e}"]}, [f"{where}: not JSON: {e}"]
    if not isinstance(raw, dict):
        return {"subject": subject, "errors": [f"{where}: not an object"]}, [f"{where}: not an object"]
    for key in sorted(set(raw) - LOG_KEYS):
        errors.append(f"{where}: unknown key {key!r}")
    for key in sorted(LOG_REQUIRED - set(raw)):
        errors.append(f"{where}: no {key!r}")
    for key in ("body", "severity", "serviceName"):
        if key in raw and not (isinstance(raw[key], str) and raw[key]):
            errors.append(f"{where}: {key} {raw[key]!r} is not a non-empty string")
    if "severity" in raw:
        if raw["severity"] not in SEVERITIES:
            errors.append(f"{where}: severity {raw['severity']!r} is not one of {sorted(SEVERITIES)}")
        if subject and subject.split(".")[-1] != raw["severity"]:
            errors.append(f"{where}: severity {raw['severity']!r} is not the subject's token")
    if "timestamp" in raw and not (isinstance(raw["timestamp"], str) and RFC3339_UTC.match(raw["timestamp"])):
        errors.append(f"{where}: timestamp {raw['timestamp']!r} is not RFC 3339 UTC")
    if "attributes" in raw:
        attrs = raw["attributes"]
        if not isinstance(attrs, dict):
            errors.append(f"{where}: attributes is not an object")
        else:
            for k, v in attrs.items():
                if not isinstance(v, str):
                    errors.append(f"{where}: attribute {k!r} is {v!r}, not a string")
    if "traceId" in raw and not (isinstance(raw["traceId"], str) and HEX32.match(raw["traceId"])):
        errors.append(f"{where}: traceId {raw['traceId']!r} is not 32 lowercase hex digits")
    if "spanId" in raw and not (isinstance(raw["spanId"], str) and HEX16.match(raw["spanId"])):
        errors.append(f"{where}: spanId {raw['spanId']!r} is not 16 lowercase hex digits")
    return {"subject": subject, "record": raw, "errors": errors}, errors


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--span", action="append", default=[], metavar="FILE", help="a span message body")
    parser.add_argument("--log", action="append", default=[], metavar="FILE", help="a log message body")
    args = parser.parse_args(argv)

    inputs: List[Tuple[str, str, str]] = []  # (kind, subject, body)
    for path in args.span:
        with open(path, encoding="utf-8") as f:
            inputs.append(("span", "", f.read()))
    for path in args.log:
        with open(path, encoding="utf-8") as f:
            inputs.append(("log", "", f.read()))
    errors: List[str] = []
    if not (args.span or args.log):
        for n, line in enumerate(sys.stdin, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                subject, body = item["subject"], item["body"]
                if not isinstance(subject, str) or not isinstance(body, str):
                    raise TypeError("subject and body must be strings")
            except (ValueError, KeyError, TypeError) as e:
                errors.append(f"stdin line {n}: expected {{\"subject\", \"body\"}}: {e}")
                continue
            if subject.startswith("telemetry.spans."):
                inputs.append(("span", subject, body))
            elif subject.startswith("telemetry.logs."):
                inputs.append(("log", subject, body))
            else:
                errors.append(f"stdin line {n}: subject {subject!r} is neither a span nor a log subject")

    spans, logs = [], []
    for kind, subject, body in inputs:
        if kind == "span":
            parsed, errs = check_span(subject, body)
            spans.append(parsed)
        else:
            parsed, errs = check_log(subject, body)
            logs.append(parsed)
        errors.extend(errs)
    if not inputs:
        errors.append("no message bodies were given")
    verdict = {"ok": not errors, "spans": spans, "logs": logs, "errors": errors}
    json.dump(verdict, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0 if verdict["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
