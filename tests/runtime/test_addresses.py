"""Cluster specs and the documented control/events port rule."""
from __future__ import annotations

import pytest

from quorumlab.core.runtime.addresses import AddressError, control_address, events_address, format_cluster, parse_cluster


def test_cluster_spec_maps_ids_to_addresses_and_round_trips():
    spec = "1=tcp://127.0.0.1:7101, 2=tcp://10.0.0.2:7101,3=tcp://node-c.example:7103"
    nodes = parse_cluster(spec)
    assert nodes == {1: "tcp://127.0.0.1:7101", 2: "tcp://10.0.0.2:7101", 3: "tcp://node-c.example:7103"}
    assert parse_cluster(format_cluster(nodes)) == nodes


def test_control_is_port_plus_1000_and_events_port_plus_2000_on_the_same_host():
    assert control_address("tcp://10.0.0.5:7101") == "tcp://10.0.0.5:8101"
    assert events_address("tcp://10.0.0.5:7101") == "tcp://10.0.0.5:9101"


@pytest.mark.parametrize(
    "spec, complaint",
    [
        ("", "names no node"),
        ("1=tcp://127.0.0.1:7101,1=tcp://127.0.0.1:7102", "appears twice"),
        ("x=tcp://127.0.0.1:7101", "not an integer"),
        ("0=tcp://127.0.0.1:7101", "node ids are 1.."),
        ("1=udp://127.0.0.1:7101", "not a tcp://host:port"),
        ("1=tcp://127.0.0.1:99999", "outside 1..65535"),
        ("1tcp://127.0.0.1:7101", "not ID=tcp"),
        ("1=tcp://127.0.0.1:7101,2=tcp://127.0.0.1:7101", "share the address"),
    ],
)
def test_bad_cluster_spec_is_refused_with_the_reason(spec, complaint):
    with pytest.raises(AddressError, match=complaint):
        parse_cluster(spec)


def test_derived_port_out_of_range_asks_for_an_explicit_address():
    with pytest.raises(AddressError, match="pass the address explicitly"):
        events_address("tcp://127.0.0.1:64000")
