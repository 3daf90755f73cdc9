"""Fault values: parsing untrusted mappings, validation messages, and the wire round trip."""

from __future__ import annotations

from typing import Any

import pytest

from releve.sim import Fault, FaultKind, parse_fault

VALID: list[dict[str, Any]] = [
    {"kind": "status", "status": 529},
    {"kind": "rate_limit", "retry_after": 2.5, "probability": 0.5},
    {"kind": "latency", "ms": 100, "jitter_ms": 20, "paths": ["/v1/chat/completions"]},
    {"kind": "hang", "seconds": 1.5},
    {"kind": "hang"},
    {"kind": "stream_cut", "after_chunks": 3, "count": 2},
    {"kind": "chunk_delay", "ms": 100},
    {"kind": "malformed"},
    {"kind": "reset_peer", "probability": 0},
    {"kind": "blackhole"},
    {"kind": "bandwidth", "bytes_per_second": 1000},
    {"kind": "slicer", "size": 8, "delay_ms": 5},
    {"kind": "limit_data", "bytes": 0},
    {"kind": "slow_close", "ms": 250},
]


@pytest.mark.parametrize("data", VALID, ids=lambda d: d["kind"])
def test_valid_fault_round_trips_through_its_wire_form(data: dict[str, Any]) -> None:
    """parse_fault accepts each kind, and to_dict gives back a mapping that parses to the same fault."""
    fault = parse_fault(data)
    assert fault.kind == FaultKind(data["kind"])
    assert parse_fault(fault.to_dict()) == fault
    for key, value in data.items():
        assert fault.to_dict()[key] == value


def test_defaults_apply_when_parameters_are_omitted() -> None:
    """A bare status fault is a certain, unfiltered, unlimited 500."""
    fault = parse_fault({"kind": "status"})
    assert (fault.status, fault.probability, fault.paths, fault.count) == (500, 1.0, (), None)
    assert parse_fault({"kind": "rate_limit"}).retry_after == 1.0


def test_limit_data_bytes_is_stored_under_a_non_shadowing_name() -> None:
    """The wire field `bytes` maps to the attribute `limit_bytes` and back."""
    fault = parse_fault({"kind": "limit_data", "bytes": 42})
    assert fault.limit_bytes == 42
    assert fault.to_dict() == {"kind": "limit_data", "bytes": 42}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "explode"}, "'kind'"),
        ({"status": 500}, "'kind'"),
        ({"kind": "latency"}, "'ms'"),
        ({"kind": "status", "propability": 0.5}, "'propability'"),
        ({"kind": "status", "ms": 5}, "'ms'"),
        ({"kind": "status", "probability": 1.5}, "'probability'"),
        ({"kind": "status", "probability": "half"}, "'probability'"),
        ({"kind": "status", "status": 5000}, "'status'"),
        ({"kind": "status", "status": True}, "'status'"),
        ({"kind": "status", "status": 500.0}, "'status'"),
        ({"kind": "status", "count": 0}, "'count'"),
        ({"kind": "status", "paths": "/v1/models"}, "'paths'"),
        ({"kind": "status", "paths": ["v1/models"]}, "'paths'"),
        ({"kind": "latency", "ms": -1}, "'ms'"),
        ({"kind": "latency", "ms": float("nan")}, "'ms'"),
        ({"kind": "hang", "seconds": 0}, "'seconds'"),
        ({"kind": "stream_cut", "after_chunks": -1}, "'after_chunks'"),
        ({"kind": "bandwidth", "bytes_per_second": 0}, "'bytes_per_second'"),
        ({"kind": "slicer", "size": 0}, "'size'"),
        ({"kind": "limit_data", "bytes": -5}, "'bytes'"),
    ],
)
def test_invalid_fault_error_names_the_bad_field(data: dict[str, Any], field: str) -> None:
    """Every rejection is a ValueError whose message names the offending field."""
    with pytest.raises(ValueError, match=field):
        parse_fault(data)


def test_non_mapping_is_rejected() -> None:
    """A fault must be a JSON object."""
    with pytest.raises(ValueError, match="expected a JSON object"):
        parse_fault(["status"])


def test_from_cli_parses_a_json_object() -> None:
    """Fault.from_cli reads the JSON a user types after --fault."""
    assert Fault.from_cli('{"kind": "status", "status": 503}') == Fault(FaultKind.STATUS, status=503)


def test_from_cli_reports_invalid_json() -> None:
    """Text that is not JSON gives a ValueError quoting it."""
    with pytest.raises(ValueError, match="not valid JSON"):
        Fault.from_cli("kind=status")


def test_direct_construction_is_validated_and_coerces_the_kind() -> None:
    """Building a Fault in Python applies the same range checks, and a kind string becomes a FaultKind."""
    fault = Fault("latency", ms=5, paths=["/v1/models"])  # type: ignore[arg-type]
    assert fault.kind is FaultKind.LATENCY
    assert fault.paths == ("/v1/models",)
    with pytest.raises(ValueError, match="'probability'"):
        Fault(FaultKind.STATUS, probability=-0.1)
    with pytest.raises(ValueError, match="'kind'"):
        Fault("nope")  # type: ignore[arg-type]


def test_faults_are_frozen_values() -> None:
    """Faults compare by value and cannot be changed after construction."""
    fault = Fault(FaultKind.STATUS, status=502)
    assert fault == Fault(FaultKind.STATUS, status=502)
    with pytest.raises(AttributeError):
        fault.status = 503  # type: ignore[misc]
