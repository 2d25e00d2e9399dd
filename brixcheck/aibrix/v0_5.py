"""Facts of AIBrix v0.5.0 the suite and the twin depend on: names, headers, routes, strategies,
errors, known bugs. A later version gets its own module beside this one.

Sources: AIBrix v0.5.0 ``config/gateway/gateway.yaml`` (EnvoyPatchPolicy ``aibrix-epp``,
ClientTrafficPolicy), ``config/gateway/gateway-plugin/gateway-plugin.yaml`` (reserved HTTPRoutes,
EnvoyExtensionPolicy) and ``pkg/controller/modelrouter`` (per-model HTTPRoutes); see
``docs/aibrix-v0.5.0.md`` §2.3, §3.2, §5. This module holds values only, no behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
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

# Pod labels the gateway reads besides the model name (pkg/constants/model.go).
LABEL_PORT: Final = "model.aibrix.ai/port"
LABEL_METRIC_PORT: Final = "model.aibrix.ai/metric-port"
LABEL_ENGINE: Final = "model.aibrix.ai/engine"
DEFAULT_MODEL_PORT: Final = 8000
HEADER_REQUEST_ID: Final = "request-id"
HEADER_USER: Final = "user"
ENVOY_GATEWAY_NAMESPACE: Final = "envoy-gateway-system"

# The Envoy data-plane Service is found by Envoy Gateway's owner labels, not its hashed name.
ENVOY_SERVICE_LABELS = {
    "gateway.envoyproxy.io/owning-gateway-name": GATEWAY_NAME,
    "gateway.envoyproxy.io/owning-gateway-namespace": SYSTEM_NAMESPACE,
}
ENVOY_SERVICE_NAME = "envoy-aibrix-system-aibrix-eg-903790dc"

# Deployments of the release manifests and their pod selectors (config/overlays/release).
DEPLOYMENTS = {
    "aibrix-controller-manager": "control-plane=controller-manager",
    "aibrix-gateway-plugins": "app=gateway-plugins",
    "aibrix-metadata-service": "app=metadata-service",
    "aibrix-redis-master": "app=redis,role=master,tier=backend",
    "aibrix-gpu-optimizer": "app=gpu-optimizer",
    "aibrix-kuberay-operator": "app.kubernetes.io/name=kuberay-operator",
}


@dataclass(frozen=True)
class Requests:
    """CPU and memory a container requests, as Kubernetes quantities."""

    cpu: str
    memory: str


# Release requests (= limits where given; a limit alone is also the request) of the
# Deployments above (docs aibrix-v0.5.0 §2.1). About 4.3 CPU and 17 GiB with Envoy's.
RELEASE_REQUESTS = {
    "aibrix-controller-manager": Requests("10m", "64Mi"),
    "aibrix-gateway-plugins": Requests("2", "8Gi"),
    "aibrix-metadata-service": Requests("50m", "128Mi"),
    "aibrix-redis-master": Requests("100m", "100Mi"),
    "aibrix-gpu-optimizer": Requests("10m", "64Mi"),
    "aibrix-kuberay-operator": Requests("100m", "512Mi"),
}
# The release overlay's EnvoyProxy sets the envoy container to this; EG adds shutdown-manager.
ENVOY_REQUESTS = Requests("2", "8Gi")
ENVOY_PROXY_NAME: Final = "aibrix-custom-proxy-config"  # EnvoyProxy, in SYSTEM_NAMESPACE
# What base config/default requests (no release overlay): the K3s-small override (§11).
K3S_SMALL_REQUESTS = Requests("1", "1Gi")

CRDS = (
    "podautoscalers.autoscaling.aibrix.ai",
    "modeladapters.model.aibrix.ai",
    "rayclusterreplicasets.orchestration.aibrix.ai",
    "rayclusterfleets.orchestration.aibrix.ai",
    "kvcaches.orchestration.aibrix.ai",
    "stormservices.orchestration.aibrix.ai",
    "rolesets.orchestration.aibrix.ai",
    "podsets.orchestration.aibrix.ai",
)


class Reads(StrEnum):
    """What a routing strategy bases its choice on."""

    NOTHING = "nothing"
    GATEWAY_STATE = "gateway-local state"
    ENGINE_METRICS = "engine metrics"
    PROMETHEUS = "Prometheus queries"
    UNPOPULATED = "a metric v0.5.0 never populates"
    GPU_PROFILE = "GPU-optimizer profiles (least-request without them)"


@dataclass(frozen=True)
class Strategy:
    """A `routing-strategy` value and whether it really routes on a vLLM >= 0.11 engine."""

    name: str
    reads: Reads
    metric_names: tuple[str, ...] = ()
    works_on_modern_vllm: bool = True
    needs_pd_roles: bool = False  # routes only among pods labelled role-name prefill/decode


# pkg/plugins/gateway/algorithms/router.go registry; behaviour per research notes §4.
STRATEGIES = (
    Strategy("random", Reads.NOTHING),
    Strategy("least-request", Reads.GATEWAY_STATE),
    Strategy("throughput", Reads.ENGINE_METRICS, ("vllm:avg_prompt_throughput_toks_per_s",
                                                  "vllm:avg_generation_throughput_toks_per_s"),
             works_on_modern_vllm=False),
    Strategy("prefix-cache", Reads.GATEWAY_STATE),
    Strategy("prefix-cache-preble", Reads.GATEWAY_STATE),
    Strategy("least-kv-cache", Reads.ENGINE_METRICS, ("vllm:gpu_cache_usage_perc",
                                                      "vllm:cpu_cache_usage_perc"),
             works_on_modern_vllm=False),
    Strategy("least-gpu-cache", Reads.ENGINE_METRICS, ("vllm:gpu_cache_usage_perc",),
             works_on_modern_vllm=False),
    Strategy("least-busy-time", Reads.UNPOPULATED, works_on_modern_vllm=False),
    Strategy("least-utilization", Reads.UNPOPULATED, works_on_modern_vllm=False),
    Strategy("least-latency", Reads.PROMETHEUS, works_on_modern_vllm=False),
    Strategy("vtc-basic", Reads.ENGINE_METRICS, ("vllm:num_requests_running",)),
    # In-flight counts, prefix blocks; throughput and KV usage count as 0 when absent.
    Strategy("pd", Reads.GATEWAY_STATE, needs_pd_roles=True),
    # No GPU optimizer writes profiles to Redis in a plain install: all four use least-request.
    Strategy("slo", Reads.GPU_PROFILE),
    Strategy("slo-pack-load", Reads.GPU_PROFILE),
    Strategy("slo-least-load", Reads.GPU_PROFILE),
    Strategy("slo-least-load-pulling", Reads.GPU_PROFILE),
)
STRATEGY_NAMES = tuple(s.name for s in STRATEGIES)
# Strategies that serve a model of plain (not prefill/decode) pods.
PLAIN_POOL_STRATEGY_NAMES = tuple(s.name for s in STRATEGIES if not s.needs_pd_roles)
# Prefill and decode pods' vLLM KV connector in samples/disaggregation/vllm/1p1d.yaml; the pd
# router needs one: it forwards the prefill answer's kv_transfer_params to the decode pod.
PD_KV_TRANSFER_CONFIG: Final = '{"kv_connector":"NixlConnector","kv_role":"kv_both"}'


@dataclass(frozen=True)
class GatewayError:
    """One row of the gateway's error contract (v0.5.0 code).

    `value` is the header's value (``{strategy}``/``{model}`` filled in per request);
    `json_type` is False for rows built with util.go buildErrorResponse, which sets no
    Content-Type (Envoy's local reply then says text/plain).
    """

    condition: str
    status: int
    header: str
    message: str
    code: str | None = None
    param: str | None = None
    value: str = "true"
    json_type: bool = True


ERRORS = (
    GatewayError("routing-strategy not registered", 400, "x-error-invalid-routing-strategy",
                 "incorrect routing strategy", param="routing-strategy", value="{strategy}"),
    GatewayError("model missing or unknown", 400, "x-error-no-model-backends",
                 "model {model} does not exist", code="model_not_found", param="model",
                 value="{model}"),
    GatewayError("model known, no routable pod", 503, "x-error-no-model-backends",
                 "error on getting pods for model {model}", code="service_unavailable"),
    GatewayError("body not JSON", 400, "x-error-request-body-processing",
                 "error processing request body", json_type=False),
    GatewayError("chat without messages", 400, "x-error-request-body-processing",
                 "no messages in the request body", param="messages", json_type=False),
    GatewayError("stream not boolean", 400, "x-error-stream", "stream incorrectly set",
                 param="stream", value="stream incorrectly set", json_type=False),
    GatewayError("user not in Redis", 500, "x-error-user", "redis: nil"),
    GatewayError("RPM reached", 429, "x-error-rpm-exceeded",
                 "user: {user} has exceeded RPM: {rpm}", code="rate_limit_exceeded"),
    GatewayError("TPM reached", 429, "x-error-tpm-exceeded",
                 "user: {user} has exceeded TPM: {tpm}", code="rate_limit_exceeded"),
)


@dataclass(frozen=True)
class KnownBug:
    """A v0.5.0 defect a case expects (strict xfail), with where it was fixed."""

    key: str
    effect: str
    fixed_in: str | None


KNOWN_BUGS = {
    "models-no-slash": KnownBug("models-no-slash", "GET /v1/models answers 404; /v1/models/ "
                                "works (metadata service redirect_slashes=False)", "v0.7.0"),
    "completions-stream": KnownBug("completions-stream", "stream: true on /v1/completions is "
                                   "parsed as one JSON at the end (x-error-response-unmarshal)",
                                   "v0.6.0"),
    "error-content-type": KnownBug("error-content-type", "the plugin sets Content-Type: "
                                   "application/json on its error answers through "
                                   "HeaderValue.value, which Envoy's ext_proc does not read (it "
                                   "reads raw_value): the header arrives empty", None),
    "metric-names": KnownBug("metric-names", "metric-driven strategies read vLLM V0 names and "
                             "silently route at random on vLLM >= 0.11", "v0.6.0 (partly)"),
}
