"""Shared fixtures: the trace-context vectors, a real nats-server with JetStream, and the
shared authentication and TLS cases (testkit::auth) with a server secured as each says."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Any, Dict, Iterator, List, Optional

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


# The shared auth cases, loaded once per session (at collection, for parametrizing), and
# the temporary folder they were generated into when DAGNATS_AUTH_CASES is unset.
_auth_cases: Optional[List[Dict[str, Any]]] = None
_auth_dir: Optional[tempfile.TemporaryDirectory] = None


def load_auth_cases() -> List[Dict[str, Any]]:
    """The cases of ``cases.json`` at $DAGNATS_AUTH_CASES; when unset, generated into a
    temporary folder with ``cargo run -p testkit --bin auth-fixture`` from the repo root."""
    global _auth_cases, _auth_dir
    if _auth_cases is None:
        path = os.environ.get("DAGNATS_AUTH_CASES")
        if not path:
            _auth_dir = tempfile.TemporaryDirectory(prefix="dagnats-auth-")
            subprocess.run(
                ["cargo", "run", "-q", "-p", "testkit", "--bin", "auth-fixture", "--", _auth_dir.name],
                cwd=ROOT,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            path = os.path.join(_auth_dir.name, "cases.json")
        with open(path, encoding="utf-8") as f:
            cases = json.load(f)
        if not isinstance(cases, list) or not cases:
            raise RuntimeError(f"{path}: expected a non-empty array of auth cases")
        _auth_cases = cases
    return _auth_cases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test taking ``auth_case`` runs once per shared case, with the case name as id."""
    if "auth_case" in metafunc.fixturenames:
        cases = load_auth_cases()
        metafunc.parametrize("auth_case", cases, ids=[c["name"] for c in cases])


def pytest_unconfigure(config: pytest.Config) -> None:
    if _auth_dir is not None:
        _auth_dir.cleanup()


@pytest.fixture(scope="session")
def auth_cases() -> List[Dict[str, Any]]:
    """Every shared authentication and TLS case (see ``load_auth_cases``)."""
    return load_auth_cases()


@pytest.fixture
def auth_nats_url(auth_case: Dict[str, Any]) -> Iterator[str]:
    """A nats-server secured as ``auth_case`` says (its ``server_args``)."""
    yield from _nats_server(list(auth_case["server_args"]))


def _nats_server(extra: list) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tempfile.mkdtemp(prefix="dagnats-nats-")
    log = open(os.path.join(store, "server.log"), "w+")
    proc = subprocess.Popen(
        # The shared configuration first: a case's own `-c` (later) carries the same limits.
        [_nats_server_bin(), "-c", str(ROOT / "testdata" / "nats-server-test.conf"),
         "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store, *extra],
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
