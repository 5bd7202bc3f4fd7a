"""The collector connects with user/password, a token, an NKey, a ``.creds`` file (a real
user JWT in an operator-mode server) and over TLS with a CA given by the user: the shared
cases of ``testkit::auth`` (see conftest.load_auth_cases), which the Rust, Node and C tests
run too. Each wrong way to connect raises ConnectError naming the cause, never carrying
the secret."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from dagnats_observe import ConnectError, Telemetry, TelemetryError


def test_the_shared_cases_cover_every_way_to_connect(auth_cases: List[Dict[str, Any]]) -> None:
    names = [c["name"] for c in auth_cases]
    assert len(names) == len(set(names)), names
    assert {"user_password", "token", "nkey", "credentials_file", "tls_ca_file"} <= set(names)


def test_connects_and_refuses_the_wrong_way(auth_case: Dict[str, Any], auth_nats_url: str) -> None:
    # The case's keys are Telemetry.connect's keywords.
    with pytest.raises(ConnectError) as raised:
        Telemetry.connect(auth_nats_url, "py-auth", **auth_case["wrong"])
    assert isinstance(raised.value, TelemetryError)
    message = str(raised.value)
    assert auth_case["secret"] not in message, f"the secret leaked: {message}"
    assert auth_case["secret"] not in repr(raised.value)
    assert auth_case["refusal"] in message, f"the cause is not named: {message}"

    with Telemetry.connect(auth_nats_url, "py-auth", **auth_case["connect"]) as tel:
        with tel.tracer.start_span("secured"):
            pass
        tel.flush(timeout=10)
        stats = tel.stats()
        assert stats is not None and stats["published"] == 1, stats
