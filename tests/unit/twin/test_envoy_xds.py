"""Pure checks of the Envoy resources that reproduce EG v1.2.8 + AIBrix v0.5.0 (no Envoy run)."""

from __future__ import annotations

import pytest

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.twin import envoy_xds as xds


def test_route_configuration_puts_original_route_first():
    routes = xds.route_configuration(["m"])["virtual_hosts"][0]["routes"]
    assert routes[0]["name"] == aibrix.ORIGINAL_ROUTE_NAME
    assert routes[0]["route"]["cluster"] == aibrix.ORIGINAL_DST_CLUSTER
    assert xds.EXT_PROC_FILTER in routes[0]["typed_per_filter_config"]


def test_route_configuration_model_route_precedes_reserved_route_on_same_prefix():
    routes = xds.route_configuration(["m"])["virtual_hosts"][0]["routes"]
    clusters = [r["route"]["cluster"] for r in routes
                if r["match"].get("path_separated_prefix") == "/v1/chat/completions"]
    assert clusters == ["model-m", xds.RESERVED_CLUSTER]


def test_route_configuration_orders_longer_prefixes_first_as_eg():
    routes = xds.route_configuration(["m"])["virtual_hosts"][0]["routes"][1:]
    lengths = [len(r["match"]["path_separated_prefix"]) for r in routes]
    assert lengths == sorted(lengths, reverse=True)


def test_route_configuration_enables_ext_proc_only_on_reserved_routes():
    routes = xds.route_configuration(["m"])["virtual_hosts"][0]["routes"][1:]
    enabled = {r["route"]["cluster"] for r in routes if "typed_per_filter_config" in r}
    assert enabled == {xds.RESERVED_CLUSTER}


def test_route_configuration_model_route_has_gateway_timeout_and_eg_idle_timeout():
    route = next(r for r in xds.route_configuration(["m"])["virtual_hosts"][0]["routes"]
                 if r["route"]["cluster"] == "model-m")
    assert route["route"]["timeout"] == "120s"
    assert route["route"]["idle_timeout"] == "3600s"
    assert route["match"]["headers"] == [{"name": "model", "string_match": {"exact": "m"}}]


def test_ext_proc_filter_is_disabled_and_fails_closed():
    config = xds.ext_proc_filter()
    assert config["disabled"] is True
    assert config["typed_config"]["failure_mode_allow"] is False
    assert config["typed_config"]["processing_mode"]["request_body_mode"] == "BUFFERED"


@pytest.mark.parametrize("ip", ["10.0.0.1", "::1", "localhost", "0.0.0.0"])
def test_load_assignment_refuses_non_loopback_ipv4(ip: str):
    with pytest.raises(ValueError, match="not a loopback IPv4 address"):
        xds.load_assignment("model-m", [(ip, 8000)])


@pytest.mark.parametrize("model", ["", "a/b", "-x", "x" * 64])
def test_model_cluster_name_refuses_non_label_values(model: str):
    with pytest.raises(ValueError, match="not a valid Kubernetes label value"):
        xds.model_cluster_name(model)
