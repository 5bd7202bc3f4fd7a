"""The shared connection-option cases (testdata/connection-options-vectors.json) through
validate_connect_options and Telemetry.connect: as keywords, and as NATS_* variables.
The core decides; Python raises TypeError for missing_user/missing_password and
ValueError for the rest, with the rule's name in ``.kind``."""

from __future__ import annotations

import json
import pathlib
from typing import Any, Dict, List

import pytest

from dagnats_observe import Telemetry, validate_connect_options

ROOT = pathlib.Path(__file__).resolve().parents[3]

with open(ROOT / "testdata" / "connection-options-vectors.json", encoding="utf-8") as _f:
    CASES: List[Dict[str, Any]] = json.load(_f)["cases"]

NATS_VARS = [
    "NATS_URL", "NATS_CREDS", "NATS_USER", "NATS_PASSWORD", "NATS_TOKEN", "NATS_NKEY",
    "NATS_TLS_REQUIRED", "NATS_CA", "NATS_CERT", "NATS_KEY",
]
TYPE_ERRORS = {"missing_user", "missing_password"}


def keywords(options: Dict[str, Any]) -> Dict[str, Any]:
    """The case's options as Python keywords (the core's names; the URL is nats_url and
    the timeout is in seconds)."""
    out = dict(options)
    if "url" in out:
        out["nats_url"] = out.pop("url")
    if "connect_timeout_ms" in out:
        out["connect_timeout"] = out.pop("connect_timeout_ms") / 1000.0
    return out


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in NATS_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def check(case: Dict[str, Any], call: Any) -> None:
    if case["valid"]:
        servers = call()
        if "servers" in case:
            assert servers == case["servers"], case["name"]
        return
    expected = TypeError if case["error"] in TYPE_ERRORS else ValueError
    with pytest.raises(expected) as info:
        call()
    assert getattr(info.value, "kind", None) == case["error"], (case["name"], str(info.value))
    assert str(info.value).startswith(case["error"] + ": "), str(info.value)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("case", [c for c in CASES if "options" in c], ids=lambda c: c["name"])
def test_options(case: Dict[str, Any], clean_env: pytest.MonkeyPatch) -> None:
    check(case, lambda: validate_connect_options(**keywords(case["options"])))


@pytest.mark.parametrize("case", [c for c in CASES if "env" in c], ids=lambda c: c["name"])
def test_environment(case: Dict[str, Any], clean_env: pytest.MonkeyPatch) -> None:
    for var, value in case["env"].items():
        clean_env.setenv(var, value)
    check(case, validate_connect_options)


def test_every_case_is_run() -> None:
    assert len([c for c in CASES if "options" in c]) >= 30
    assert len([c for c in CASES if "env" in c]) >= 15


def test_connect_raises_the_same_before_any_server(clean_env: pytest.MonkeyPatch) -> None:
    # Port 1 is never a NATS server: only validation can answer this fast.
    with pytest.raises(ValueError) as info:
        Telemetry.connect("nats://127.0.0.1:1", "svc", user="worker", password="pw", token="tok-secret")
    assert getattr(info.value, "kind", None) == "conflicting_credentials"
    assert "tok-secret" not in str(info.value)
    with pytest.raises(TypeError) as type_info:
        Telemetry.connect("nats://127.0.0.1:1", "svc", user="worker")
    assert "user (NATS_USER) is given without password (NATS_PASSWORD)" in str(type_info.value)
    clean_env.setenv("NATS_TOKEN", "tok-from-env")
    with pytest.raises(ValueError, match="token \\(NATS_TOKEN\\)") as env_info:
        Telemetry.connect("nats://127.0.0.1:1", "svc", nkey="SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU")
    assert getattr(env_info.value, "kind", None) == "conflicting_credentials"


def test_unknown_and_mistyped_keywords_are_type_errors(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'pasword'"):
        validate_connect_options(user="worker", pasword="pw")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        validate_connect_options(token=5)  # type: ignore[arg-type]
    assert validate_connect_options("nats://h:4222", tls_required=None, name=None) == ["nats://h:4222"]
