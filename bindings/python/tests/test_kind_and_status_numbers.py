"""The Python enums carry the core's numbers (OpenTelemetry's API numbering), which the
native module converts by number: each member reaches the record as its own kind."""

from dagnats_observe import SpanKind, StatusCode, Telemetry


def test_members_are_numbered_as_opentelemetry_numbers_them() -> None:
    kinds = [SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER]
    assert [int(k) for k in kinds] == [0, 1, 2, 3, 4]
    assert [int(c) for c in (StatusCode.UNSET, StatusCode.OK, StatusCode.ERROR)] == [0, 1, 2]


def test_every_kind_and_status_reaches_the_record() -> None:
    tel = Telemetry.in_memory("svc")
    names = {
        "INTERNAL": "internal",
        "SERVER": "server",
        "CLIENT": "client",
        "PRODUCER": "producer",
        "CONSUMER": "consumer",
    }
    for member, wire in names.items():
        with tel.tracer.start_span(member, kind=getattr(SpanKind, member)) as span:
            span.set_status(StatusCode.ERROR, "failed")
        record = tel.finished_spans()[-1]
        assert (record["name"], record["kind"], record["status"]) == (member, wire, "error")


def test_members_are_hashable_as_python_enum_members_are() -> None:
    by_kind = {SpanKind.SERVER: "handles", SpanKind.CLIENT: "calls"}
    assert by_kind[SpanKind.SERVER] == "handles"
    assert len({StatusCode.OK, StatusCode.OK, StatusCode.ERROR}) == 2
    assert hash(SpanKind.CONSUMER) == hash(SpanKind.CONSUMER)
    # Members equal their numbers, so they must hash as them.
    assert SpanKind.SERVER == 1 and hash(SpanKind.SERVER) == hash(1)
    assert {1: "one"}[StatusCode.OK] == "one"  # type: ignore[index]
