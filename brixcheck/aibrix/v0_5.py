"""Facts of AIBrix v0.5.0 that the suite checks: names, headers, strategies, errors, known bugs.

Data only. Tests and fixtures import these constants instead of retyping AIBrix strings, and a
later AIBrix version gets its own module beside this one (`v0_6.py`, ...), not edits here.
Source: vllm-project/aibrix at tag v0.5.0 (commit 45ada88c), as summarised in the project's
research notes; each table says what it is read from.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

VERSION = "v0.5.0"
SYSTEM_NAMESPACE = "aibrix-system"
ENVOY_GATEWAY_NAMESPACE = "envoy-gateway-system"

# Pod labels the gateway reads (pkg/constants/model.go).
MODEL_LABEL = "model.aibrix.ai/name"
PORT_LABEL = "model.aibrix.ai/port"
METRIC_PORT_LABEL = "model.aibrix.ai/metric-port"
ENGINE_LABEL = "model.aibrix.ai/engine"
DEFAULT_MODEL_PORT = 8000

# Headers (pkg/plugins/gateway).
ROUTING_STRATEGY_HEADER = "routing-strategy"
TARGET_POD_HEADER = "target-pod"
REQUEST_ID_HEADER = "request-id"
USER_HEADER = "user"
MODEL_HEADER = "model"

# The Envoy data-plane Service is found by Envoy Gateway's owner labels, not its hashed name.
GATEWAY_NAME = "aibrix-eg"
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


@dataclass(frozen=True)
class Strategy:
    """A `routing-strategy` value and whether it really routes on a vLLM >= 0.11 engine."""

    name: str
    reads: Reads
    metric_names: tuple[str, ...] = ()
    works_on_modern_vllm: bool = True


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
)
STRATEGY_NAMES = tuple(s.name for s in STRATEGIES)


@dataclass(frozen=True)
class GatewayError:
    """One row of the gateway's error contract (v0.5.0 code)."""

    condition: str
    status: int
    header: str
    message: str
    code: str | None = None
    param: str | None = None


ERRORS = (
    GatewayError("routing-strategy not registered", 400, "x-error-invalid-routing-strategy",
                 "incorrect routing strategy", param="routing-strategy"),
    GatewayError("model missing or unknown", 400, "x-error-no-model-backends",
                 "model {model} does not exist", code="model_not_found", param="model"),
    GatewayError("model known, no routable pod", 503, "x-error-no-model-backends",
                 "error on getting pods for model {model}", code="service_unavailable"),
    GatewayError("body not JSON", 400, "x-error-request-body-processing",
                 "error processing request body"),
    GatewayError("chat without messages", 400, "x-error-request-body-processing",
                 "no messages in the request body", param="messages"),
    GatewayError("stream not boolean", 400, "x-error-stream", "stream incorrectly set",
                 param="stream"),
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
    "metric-names": KnownBug("metric-names", "metric-driven strategies read vLLM V0 names and "
                             "silently route at random on vLLM >= 0.11", "v0.6.0 (partly)"),
}
