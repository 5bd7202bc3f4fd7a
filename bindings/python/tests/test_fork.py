"""A worker that forks after connecting keeps tracing in the child: the child gets its
own collector (os.register_at_fork), nothing deadlocks, the parent is unaffected."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
from typing import Any, Dict, List

import nats
import pytest

from dagnats_observe import Telemetry


async def spans(nats_url: str, want: int) -> List[Dict[str, Any]]:
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.jetstream().subscribe("telemetry.spans.>", ordered_consumer=True)
        out = []
        while len(out) < want:
            out.append(json.loads((await sub.next_msg(timeout=15)).data))
        return out
    finally:
        await nc.close()


def _child_work(nats_url: str) -> None:
    # Runs in a multiprocessing child created by fork: uses the inherited Telemetry.
    tel = _inherited["tel"]
    with tel.tracer.start_span("mp-child", attributes={"pid": os.getpid()}):
        pass
    tel.close(timeout=10)


_inherited: Dict[str, Telemetry] = {}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_both_sides_of_a_fork_keep_tracing(nats_url: str) -> None:
    tel = Telemetry.connect(nats_url, "py-forker")
    with tel.tracer.start_span("before-fork"):
        pass
    tel.flush(timeout=10)

    pid = os.fork()
    if pid == 0:  # the child: trace, deliver, and leave without running the parent's cleanup
        code = 1
        try:
            with tel.tracer.start_span("in-child", attributes={"pid": os.getpid()}):
                pass
            tel.close(timeout=10)
            code = 0 if tel.stats() is not None and tel.dropped == 0 else 2
        finally:
            os._exit(code)

    with tel.tracer.start_span("in-parent"):
        pass
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "the child traced and closed cleanly"

    _inherited["tel"] = tel
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=_child_work, args=(nats_url,))
    proc.start()
    proc.join(30)
    assert proc.exitcode == 0

    tel.close(timeout=10)
    assert tel.dropped == 0

    got = asyncio.run(spans(nats_url, 4))
    names = sorted(s["name"] for s in got)
    assert names == ["before-fork", "in-child", "in-parent", "mp-child"]
    ids = {s["span_id"] for s in got}
    assert len(ids) == 4, "the child's generator was reseeded: no repeated ids"
    assert len({s["trace_id"] for s in got}) == 4
