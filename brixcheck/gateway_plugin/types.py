"""The seam between the plugin's core and its routing algorithms.

Mirrors AIBrix v0.5.0 ``pkg/types/router.go`` (Router), ``pkg/types/router_context.go``
(RoutingContext) and ``pkg/cache/cache_api.go`` (the cache the algorithms read). The core owns
the real cache (pods from the API server, metrics scraped from the engines, in-flight counts);
the algorithms only read it through ``Cache``, so they are unit-tested with an in-memory one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.gateway_plugin.profile import ModelGPUProfile, OutputPredictor


class RoutingError(Exception):
    """A router found no pod (the core answers 503 `x-error-routing`, gateway_req_body.go)."""


@dataclass(frozen=True)
class Pod:
    """A pod as the plugin's cache holds it (pkg/cache/informers.go keeps the v1.Pod)."""

    name: str
    namespace: str
    ip: str
    labels: Mapping[str, str]
    ready: bool = True
    terminating: bool = False

    @property
    def model(self) -> str:
        return self.labels.get(aibrix.LABEL_MODEL_NAME, "")

    @property
    def port(self) -> int:
        """Serving port from `model.aibrix.ai/port` (pkg/utils/pod.go), default 8000."""
        return _int_label(self.labels, aibrix.LABEL_PORT)

    @property
    def metric_port(self) -> int:
        """Port scraped for /metrics from `model.aibrix.ai/metric-port`, default 8000."""
        return _int_label(self.labels, aibrix.LABEL_METRIC_PORT)

    @property
    def address(self) -> str:
        """The `target-pod` header value at v0.5.0: `<podIP>:<port>`."""
        return f"{self.ip}:{self.port}"

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def _int_label(labels: Mapping[str, str], name: str) -> int:
    try:
        return int(labels.get(name, aibrix.DEFAULT_MODEL_PORT))
    except ValueError:
        return aibrix.DEFAULT_MODEL_PORT


@dataclass
class RoutingContext:
    """One request's routing state (pkg/types/router_context.go)."""

    algorithm: str
    model: str
    message: str  # prompt text: completions `prompt`, or chat contents joined by single spaces
    request_id: str
    user: str | None = None
    req_path: str = ""
    req_headers: Mapping[str, str] = field(default_factory=dict)
    req_body: bytes = b""
    request_time: float = field(default_factory=time.monotonic)
    target: Pod | None = None
    pending_load: float = 0.0  # SLO consumption the slo* routers charge to `target` (PendingLoad)


@dataclass(frozen=True)
class Histogram:
    """A scraped Prometheus histogram: cumulative bucket counts by upper bound, sum, count."""

    buckets: Mapping[float, float]
    sum: float
    count: float


MetricValue = float | Histogram | Mapping[str, str]  # gauge/counter, histogram, label set


class Cache(Protocol):
    """What the algorithms may read or update (pkg/cache/cache_api.go)."""

    def list_pods_by_model(self, model: str) -> Sequence[Pod]:
        """Every pod labelled for `model`, ready or not."""
        ...

    def metric(self, pod: Pod, model: str, name: str) -> MetricValue | None:
        """Last scraped value of metric `name` (v0.5.0 name, e.g. `gpu_cache_usage_perc`),
        model-scoped when the engine labels it; None when the pod never exposed it."""
        ...

    def running_requests(self, pod: Pod) -> int:
        """Gateway-local in-flight count (`realtime_num_requests_running`)."""
        ...

    def pending_load(self, pod: Pod) -> float:
        """Gateway-local SLO load of in-flight requests (`realtime_normalized_pendings`)."""
        ...

    def profile(self, model: str, deployment: str) -> ModelGPUProfile | None:
        """GPU-optimizer profile of `model` on `deployment` (GetModelProfileByDeploymentName)."""
        ...

    def output_predictor(self, model: str) -> OutputPredictor:
        """The model's output-length predictor, fed by finished requests (GetOutputPredictor)."""
        ...

    def add_request_count(self, ctx: RoutingContext) -> None:
        """A routed request started (pkg/cache/cache_trace.go AddRequestCount)."""
        ...

    def done_request(self, ctx: RoutingContext, prompt_tokens: int, output_tokens: int) -> None:
        """A routed request ended, with its usage when known (DoneRequestTrace)."""
        ...


class Router(Protocol):
    """pkg/types/router.go Router: pick one pod of a non-empty list of routable pods."""

    def route(self, ctx: RoutingContext, ready_pods: Sequence[Pod]) -> Pod:
        """Return the chosen pod or raise RoutingError."""
        ...


RouterFactory = Callable[[Cache], Router]
