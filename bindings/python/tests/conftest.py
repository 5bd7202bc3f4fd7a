"""Shared fixtures: the trace-context vectors and a real nats-server with JetStream."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Any, Dict, Iterator

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def vectors() -> Dict[str, Any]:
    with open(ROOT / "testdata" / "trace-context-vectors.json", encoding="utf-8") as f:
        return json.load(f)


def _nats_server_bin() -> str:
    explicit = os.environ.get("NATS_SERVER_BIN")
    if explicit:
        return explicit
    local = ROOT / ".tools" / "venv" / "bin" / "nats-server"
    if local.exists():
        return str(local)
    found = shutil.which("nats-server")
    if not found:
        pytest.fail("nats-server not found: run scripts/setup or set NATS_SERVER_BIN")
    return found


@pytest.fixture
def nats_url() -> Iterator[str]:
    """A nats-server with JetStream on a free loopback port and a temporary store."""
    yield from _nats_server([])


@pytest.fixture
def nats_url_with_token() -> Iterator[str]:
    """A nats-server that requires the token ``tok-right-42``."""
    yield from _nats_server(["--auth", "tok-right-42"])


def _nats_server(extra: list) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tempfile.mkdtemp(prefix="dagnats-nats-")
    log = open(os.path.join(store, "server.log"), "w+")
    proc = subprocess.Popen(
        [_nats_server_bin(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store, *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            log.seek(0)
            if "Server is ready" in log.read():
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail("nats-server did not start:\n" + log.read())
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()
        log.close()
        shutil.rmtree(store, ignore_errors=True)
