"""AIBrix v0.5.0 facts the data plane depends on (headers, route prefixes, names, ports).

Sources: AIBrix v0.5.0 ``config/gateway/gateway.yaml`` (EnvoyPatchPolicy ``aibrix-epp``,
ClientTrafficPolicy), ``config/gateway/gateway-plugin/gateway-plugin.yaml`` (reserved HTTPRoutes,
EnvoyExtensionPolicy) and ``pkg/controller/modelrouter`` (per-model HTTPRoutes); see
``docs/aibrix-v0.5.0.md`` §2.3, §3.2, §5. This module holds values only, no behaviour.
"""

from __future__ import annotations

from typing import Final

VERSION: Final = "v0.5.0"

# Request headers read or set by the gateway plugin (aibrix-v0.5.0 §5).
HEADER_ROUTING_STRATEGY: Final = "routing-strategy"
HEADER_TARGET_POD: Final = "target-pod"
HEADER_MODEL: Final = "model"

# Pod label that names a pod's model (aibrix-v0.5.0 §3.1).
LABEL_MODEL_NAME: Final = "model.aibrix.ai/name"

SYSTEM_NAMESPACE: Final = "aibrix-system"
GATEWAY_NAME: Final = "aibrix-eg"

# HTTPRoute aibrix-reserved-router: ext_proc runs on these prefixes.
RESERVED_ROUTE_NAME: Final = "aibrix-reserved-router"
RESERVED_PREFIXES: Final = (
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/image/generations",
    "/v1/video/generations",
)

# HTTPRoute aibrix-reserved-router-metadata-endpoint: to the metadata service, no ext_proc.
METADATA_ROUTE_NAME: Final = "aibrix-reserved-router-metadata-endpoint"
METADATA_PREFIXES: Final = ("/v1/models", "/v1/files", "/v1/batches")

# HTTPRoute <model>-router created by the model-route controller, each prefix ANDed with
# the exact header `model: <model>`.
MODEL_ROUTE_SUFFIX: Final = "-router"
MODEL_ROUTE_PREFIXES: Final = (
    "/v1/completions",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/generate",
    "/generatevideo",
)
GATEWAY_TIMEOUT_S: Final = 120  # AIBRIX_GATEWAY_TIMEOUT_SECONDS default, also original_route's

# EnvoyExtensionPolicy aibrix-gateway-plugins-extension-policy.
EXTENSION_POLICY_NAME: Final = "aibrix-gateway-plugins-extension-policy"
EXT_PROC_MESSAGE_TIMEOUT_S: Final = 60
CLIENT_BUFFER_LIMIT_BYTES: Final = 4_194_304  # ClientTrafficPolicy connection.bufferLimit

# EnvoyPatchPolicy aibrix-epp.
ORIGINAL_ROUTE_NAME: Final = "original_route"
ORIGINAL_DST_CLUSTER: Final = "original_destination_cluster"
ORIGINAL_DST_CONNECT_TIMEOUT_S: Final = 6

# Services and their ports in aibrix-system.
GATEWAY_PLUGINS_SERVICE: Final = "aibrix-gateway-plugins"
GATEWAY_PLUGINS_GRPC_PORT: Final = 50052
METADATA_SERVICE: Final = "aibrix-metadata-service"
METADATA_SERVICE_PORT: Final = 8090
REDIS_SERVICE: Final = "aibrix-redis-master"
REDIS_PORT: Final = 6379

# Envoy Gateway v1.2.8 data plane: container port of the HTTP listener, admin port.
ENVOY_LISTENER_PORT: Final = 10080
ENVOY_ADMIN_PORT: Final = 19001
ENVOY_VERSION_IN_RELEASE: Final = "1.33.2"  # EnvoyProxy aibrix-custom-proxy-config image
ENVOY_GATEWAY_VERSION: Final = "v1.2.8"

# Redis key of a rate-limited user (pkg/utils/users.go).
USER_KEY_PREFIX: Final = "aibrix-users/"
