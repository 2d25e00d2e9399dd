"""Envoy resources (listener, filters, clusters, routes, endpoints) that Envoy Gateway v1.2.8 makes
from AIBrix v0.5.0's gateway objects, as plain dicts in Envoy's v3 JSON form.

The shapes follow EG's translator output (``internal/xds/translator``, its golden files under
``testdata/out/xds-ir``) with AIBrix's ``aibrix-epp`` patch applied on top; twin.md §9 lists the
mapping. Differences from a real EG deployment are listed in ``docs/twin-dataplane.md``. Everything
here is pure: no files, no sockets. ``brixcheck.twin.envoy`` writes and serves these resources.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from brixcheck.aibrix import v0_5 as aibrix

Json = dict[str, Any]
Endpoint = tuple[str, int]

LOOPBACK = "127.0.0.1"
LISTENER_NAME = f"{aibrix.SYSTEM_NAMESPACE}/{aibrix.GATEWAY_NAME}/http"
ROUTE_CONFIG_NAME = LISTENER_NAME
EXT_PROC_FILTER = (f"envoy.filters.http.ext_proc/envoyextensionpolicy/{aibrix.SYSTEM_NAMESPACE}/"
                   f"{aibrix.EXTENSION_POLICY_NAME}/extproc/0")
GATEWAY_PLUGINS_CLUSTER = aibrix.GATEWAY_PLUGINS_SERVICE
METADATA_CLUSTER = aibrix.METADATA_SERVICE
RESERVED_CLUSTER = aibrix.RESERVED_ROUTE_NAME
MODEL_CLUSTER_PREFIX = "model-"

# Envoy Gateway v1.2.8 defaults for route backends (translator cluster.go).
EG_CONNECT_TIMEOUT = "10s"
EG_CLUSTER_BUFFER_LIMIT_BYTES = 32768
EG_IDLE_TIMEOUT_FLOOR_S = 3600
EG_H2_OPTIONS: Json = {"initial_connection_window_size": 1048576,
                       "initial_stream_window_size": 65536}

_TYPE = "@type"
_T = "type.googleapis.com/envoy."
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Ports:
    """Loopback ports of the data plane; the defaults are the production ones."""

    listener: int = aibrix.ENVOY_LISTENER_PORT
    admin: int = aibrix.ENVOY_ADMIN_PORT
    gateway_plugins: int = aibrix.GATEWAY_PLUGINS_GRPC_PORT
    metadata: int = aibrix.METADATA_SERVICE_PORT


def model_cluster_name(model: str) -> str:
    """Return the per-model cluster name, checking the model is a valid label value.

    Args:
        model: the value of the pods' ``model.aibrix.ai/name`` label.

    Raises:
        ValueError: `model` could not be a Kubernetes label value.
    """
    if not _LABEL_VALUE.match(model):
        raise ValueError(f"model name {model!r} is not a valid Kubernetes label value, so no "
                         f"pod can carry it in {aibrix.LABEL_MODEL_NAME}")
    return MODEL_CLUSTER_PREFIX + model


def socket_address(ip: str, port: int) -> Json:
    """Return an Envoy address on a loopback IPv4 address.

    Args:
        ip: dotted IPv4 address inside 127.0.0.0/8.
        port: TCP port, 1 to 65535.

    Raises:
        ValueError: the address is not loopback IPv4 or the port is out of range.
    """
    try:
        is_loopback = ipaddress.IPv4Address(ip).is_loopback
    except ValueError:
        is_loopback = False
    if not is_loopback or not 0 < port < 65536:
        raise ValueError(f"endpoint {ip}:{port} is not a loopback IPv4 address with a valid port; "
                         "the twin only serves 127.0.0.0/8")
    return {"socket_address": {"address": ip, "port_value": port}}


def load_assignment(cluster: str, endpoints: Iterable[Endpoint]) -> Json:
    """Return a ClusterLoadAssignment in EG's shape (one weighted locality per backend).

    Args:
        cluster: cluster name the assignment belongs to.
        endpoints: (ip, port) pairs.
    """
    lb_endpoints = [{"endpoint": {"address": socket_address(ip, port)},
                     "load_balancing_weight": 1} for ip, port in endpoints]
    return {"cluster_name": cluster,
            "endpoints": [{"lb_endpoints": lb_endpoints, "load_balancing_weight": 1,
                           "locality": {"region": f"{cluster}/backend/0"}}]}


def eg_cluster(name: str) -> Json:
    """Return the settings EG v1.2.8 gives every route backend cluster (no endpoints yet).

    Args:
        name: cluster name.
    """
    return {"name": name, "connect_timeout": EG_CONNECT_TIMEOUT, "lb_policy": "LEAST_REQUEST",
            "dns_lookup_family": "V4_PREFERRED",
            "circuit_breakers": {"thresholds": [{"max_retries": 1024}]},
            "common_lb_config": {"locality_weighted_lb_config": {}},
            "ignore_health_on_host_removal": True, "outlier_detection": {},
            "per_connection_buffer_limit_bytes": EG_CLUSTER_BUFFER_LIMIT_BYTES}


def static_cluster(name: str, endpoint: Endpoint) -> Json:
    """Return an EG-style cluster with one fixed loopback endpoint.

    Args:
        name: cluster name.
        endpoint: (ip, port) of the only endpoint.
    """
    return {**eg_cluster(name), "type": "STATIC",
            "load_assignment": load_assignment(name, [endpoint])}


def gateway_plugins_cluster(port: int) -> Json:
    """Return the ext_proc gRPC cluster: static, explicit HTTP/2 as EG sets for gRPC backends.

    Args:
        port: loopback port of the gateway plugin's gRPC server.
    """
    options = {_TYPE: _T + "extensions.upstreams.http.v3.HttpProtocolOptions",
               "explicit_http_config": {"http2_protocol_options": EG_H2_OPTIONS}}
    return {**static_cluster(GATEWAY_PLUGINS_CLUSTER, (LOOPBACK, port)),
            "typed_extension_protocol_options": {
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": options}}


def original_dst_cluster() -> Json:
    """Return ``original_destination_cluster`` exactly as the ``aibrix-epp`` patch adds it."""
    return {"name": aibrix.ORIGINAL_DST_CLUSTER, "type": "ORIGINAL_DST",
            "original_dst_lb_config": {"use_http_header": True,
                                       "http_header_name": aibrix.HEADER_TARGET_POD},
            "connect_timeout": f"{aibrix.ORIGINAL_DST_CONNECT_TIMEOUT_S}s",
            "lb_policy": "CLUSTER_PROVIDED", "dns_lookup_family": "V4_ONLY"}


def static_clusters(ports: Ports) -> list[Json]:
    """Return the clusters that never change: ext_proc, ORIGINAL_DST, metadata, reserved.

    Args:
        ports: loopback ports of the plugin and the metadata service.
    """
    return [gateway_plugins_cluster(ports.gateway_plugins), original_dst_cluster(),
            static_cluster(METADATA_CLUSTER, (LOOPBACK, ports.metadata)),
            # aibrix-reserved-router's backendRef is the plugin Service on 50052 (plain HTTP/1.1).
            static_cluster(RESERVED_CLUSTER, (LOOPBACK, ports.gateway_plugins))]


def model_cluster(model: str, eds_source: Json) -> Json:
    """Return the EDS cluster of one model's ``<model>-router`` backend.

    Args:
        model: model name.
        eds_source: config source the endpoints come from.
    """
    name = model_cluster_name(model)
    return {**eg_cluster(name), "type": "EDS",
            "eds_cluster_config": {"service_name": name, "eds_config": eds_source}}


def ext_proc_filter() -> Json:
    """Return the ext_proc HTTP filter, disabled unless a route enables it (EG extproc.go)."""
    processing_mode = {"request_header_mode": "SEND", "request_body_mode": "BUFFERED",
                       "response_header_mode": "SEND", "response_body_mode": "STREAMED",
                       "request_trailer_mode": "SKIP", "response_trailer_mode": "SKIP"}
    authority = (f"{aibrix.GATEWAY_PLUGINS_SERVICE}.{aibrix.SYSTEM_NAMESPACE}:"
                 f"{aibrix.GATEWAY_PLUGINS_GRPC_PORT}")
    config = {_TYPE: _T + "extensions.filters.http.ext_proc.v3.ExternalProcessor",
              "grpc_service": {"envoy_grpc": {"cluster_name": GATEWAY_PLUGINS_CLUSTER,
                                              "authority": authority},
                               "timeout": "10s"},
              "processing_mode": processing_mode,
              "message_timeout": f"{aibrix.EXT_PROC_MESSAGE_TIMEOUT_S}s",
              "failure_mode_allow": False}
    return {"name": EXT_PROC_FILTER, "disabled": True, "typed_config": config}


def http_connection_manager(port: int, rds_source: Json) -> Json:
    """Return EG's HCM for an HTTP listener: ext_proc, then the router, routes over RDS.

    Args:
        port: listener port (EG's stat prefix is ``http-<port>``).
        rds_source: config source of the route configuration.
    """
    router = {"name": "envoy.filters.http.router",
              "typed_config": {_TYPE: _T + "extensions.filters.http.router.v3.Router",
                               "suppress_envoy_headers": True}}
    return {_TYPE: _T + "extensions.filters.network.http_connection_manager.v3."
                        "HttpConnectionManager",
            "stat_prefix": f"http-{port}",
            "rds": {"route_config_name": ROUTE_CONFIG_NAME, "config_source": rds_source},
            "http_filters": [ext_proc_filter(), router],
            "common_http_protocol_options": {"headers_with_underscores_action": "REJECT_REQUEST"},
            "http2_protocol_options": {**EG_H2_OPTIONS, "max_concurrent_streams": 100},
            "merge_slashes": True, "normalize_path": True,
            "path_with_escaped_slashes_action": "UNESCAPE_AND_REDIRECT",
            "server_header_transformation": "PASS_THROUGH", "use_remote_address": True}


def listener(port: int, rds_source: Json) -> Json:
    """Return the Gateway's HTTP listener on loopback with the ClientTrafficPolicy buffer limit.

    Args:
        port: listener port.
        rds_source: config source of the route configuration.
    """
    hcm = {"name": "envoy.filters.network.http_connection_manager",
           "typed_config": http_connection_manager(port, rds_source)}
    return {"name": LISTENER_NAME, "address": socket_address(LOOPBACK, port),
            "per_connection_buffer_limit_bytes": aibrix.CLIENT_BUFFER_LIMIT_BYTES,
            "default_filter_chain": {"name": LISTENER_NAME, "filters": [hcm]}}


def _ext_proc_on() -> Json:
    return {EXT_PROC_FILTER: {_TYPE: _T + "config.route.v3.FilterConfig", "config": {}}}


def original_route() -> Json:
    """Return ``original_route`` as ``aibrix-epp`` inserts it: any path with routing-strategy."""
    header = {"name": aibrix.HEADER_ROUTING_STRATEGY,
              "string_match": {"safe_regex": {"regex": ".*"}}}
    return {"name": aibrix.ORIGINAL_ROUTE_NAME,
            "match": {"prefix": "/", "headers": [header]},
            "route": {"cluster": aibrix.ORIGINAL_DST_CLUSTER,
                      "timeout": f"{aibrix.GATEWAY_TIMEOUT_S}s"},
            "typed_per_filter_config": _ext_proc_on()}


@dataclass(frozen=True)
class HttpRouteRule:
    """One rule of a Gateway API HTTPRoute: path prefixes, optional exact headers, one backend."""

    route: str
    prefixes: Sequence[str]
    cluster: str
    headers: Mapping[str, str] | None = None
    timeout_s: int | None = None
    ext_proc: bool = False


def _match(prefix: str, headers: Mapping[str, str] | None) -> Json:
    # EG turns a PathPrefix into path_separated_prefix unless it is "/" or ends with "/".
    key = "prefix" if prefix.endswith("/") else "path_separated_prefix"
    match: Json = {key: prefix}
    if headers:
        match["headers"] = [{"name": k, "string_match": {"exact": v}}
                            for k, v in headers.items()]
    return match


def _action(rule: HttpRouteRule) -> Json:
    action: Json = {"cluster": rule.cluster, "upgrade_configs": [{"upgrade_type": "websocket"}]}
    if rule.timeout_s is not None:
        action["timeout"] = f"{rule.timeout_s}s"
        action["idle_timeout"] = f"{max(rule.timeout_s, EG_IDLE_TIMEOUT_FLOOR_S)}s"
    return action


def http_routes(rule: HttpRouteRule) -> list[Json]:
    """Return the Envoy routes EG makes from one HTTPRoute rule, one per path match.

    Args:
        rule: the rule.
    """
    routes = []
    for index, prefix in enumerate(rule.prefixes):
        route: Json = {"name": f"httproute/{aibrix.SYSTEM_NAMESPACE}/{rule.route}/rule/0/"
                               f"match/{index}/*",
                       "match": _match(prefix, rule.headers), "route": _action(rule)}
        if rule.ext_proc:
            route["typed_per_filter_config"] = _ext_proc_on()
        routes.append(route)
    return routes


def _precedence(route: Json) -> tuple[int, int, str]:
    # EG sorts HTTPRoute routes by path length, then header-match count, both descending
    # (internal/gatewayapi/sort.go); the name only makes the order deterministic.
    match = route["match"]
    path = match.get("path_separated_prefix", match.get("prefix", ""))
    return (-len(path), -len(match.get("headers", [])), route["name"])


def route_rules(models: Iterable[str]) -> list[HttpRouteRule]:
    """Return the HTTPRoute rules of the reserved routes and of one ``<model>-router`` per model.

    Args:
        models: model names that have an HTTPRoute.
    """
    rules = [HttpRouteRule(aibrix.METADATA_ROUTE_NAME, aibrix.METADATA_PREFIXES,
                           METADATA_CLUSTER),
             HttpRouteRule(aibrix.RESERVED_ROUTE_NAME, aibrix.RESERVED_PREFIXES,
                           RESERVED_CLUSTER, ext_proc=True)]
    rules += [HttpRouteRule(model + aibrix.MODEL_ROUTE_SUFFIX, aibrix.MODEL_ROUTE_PREFIXES,
                            model_cluster_name(model), {aibrix.HEADER_MODEL: model},
                            aibrix.GATEWAY_TIMEOUT_S) for model in models]
    return rules


def route_configuration(models: Iterable[str]) -> Json:
    """Return the Gateway's route configuration: ``original_route`` first, then EG's order.

    Args:
        models: model names that have an HTTPRoute.
    """
    routes = [r for rule in route_rules(models) for r in http_routes(rule)]
    routes.sort(key=_precedence)
    virtual_host = {"name": f"{LISTENER_NAME}/*", "domains": ["*"],
                    "routes": [original_route(), *routes]}
    return {"name": ROUTE_CONFIG_NAME, "ignore_port_in_host_matching": True,
            "virtual_hosts": [virtual_host]}


def discovery_response(type_url: str, resources: Sequence[Json], version: str) -> Json:
    """Wrap resources the way Envoy's file-based xDS expects them.

    Args:
        type_url: resource type, e.g. ``envoy.config.cluster.v3.Cluster``.
        resources: the resources, without ``@type``.
        version: version_info to report.
    """
    return {"version_info": version,
            "resources": [{_TYPE: "type.googleapis.com/" + type_url, **r} for r in resources]}
