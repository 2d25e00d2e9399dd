"""The gateway-local cache the routing algorithms read (AIBrix v0.5.0 ``pkg/cache``): pods by
model, scraped metrics per pod and per pod+model, in-flight counts per pod
(``realtime_num_requests_running``), pending SLO load, request traces per model and GPU-optimizer
profiles. The core feeds it (``set_pods``, ``set_pod_metrics``, ``set_model_profile``) and
reports request starts and ends (``add_request_count``, ``done_request``).

Thread safety: readers never lock. Writers build new dicts and swap them in under one lock
(copy-on-write), so a router sees either the old or the new state of a pod, never half of it.
Counters change under the same lock; it is held for a few dict operations and never across
I/O, so calling from gRPC threads or from an event loop is equally safe.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from brixcheck.gateway_plugin.metric_names import Scope, scope_of
from brixcheck.gateway_plugin.profile import ModelGPUProfile, OutputPredictor
from brixcheck.gateway_plugin.types import MetricValue, Pod, RoutingContext

# pkg/utils/pod.go DeploymentNameFromPod: these labels first, else the ReplicaSet's name.
FLEET_LABEL = "orchestration.aibrix.ai/raycluster-fleet-name"
DEPLOYMENT_LABEL = "app.kubernetes.io/name"
_POD_OF_REPLICASET = re.compile(r"^(.*)-\w+-\w+$")  # <deployment>-<rs hash>-<pod suffix>


def deployment_of(pod: Pod) -> str:
    """The Deployment a pod belongs to, as v0.5.0 keys profiles by it.

    v0.5.0 strips the hash off the owning ReplicaSet's name; the emulator's pods carry no owner
    references, so the same is done on the pod name (Deployment pods are named
    `<deployment>-<rs hash>-<suffix>`)."""
    if pod.labels.get(FLEET_LABEL):
        return pod.labels[FLEET_LABEL]
    if pod.labels.get(DEPLOYMENT_LABEL) and pod.labels.get("ray.io/is-ray-node") != "yes":
        return pod.labels[DEPLOYMENT_LABEL]
    match = _POD_OF_REPLICASET.match(pod.name)
    return match.group(1) if match else ""


@dataclass
class ModelTrace:
    """Requests of one model seen since the last read (v0.5.0 writes these to Redis for the GPU
    optimizer): started, finished, and (input, output) token pairs."""

    started: int = 0
    finished: int = 0
    pending: int = 0
    tokens: list[tuple[int, int]] = field(default_factory=list)


class GatewayCache:
    """The concrete `types.Cache` of the emulator, fed by the core."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pods: dict[str, Pod] = {}
        self._by_model: dict[str, tuple[Pod, ...]] = {}
        self._metrics: dict[str, dict[str, MetricValue]] = {}
        self._model_metrics: dict[str, dict[str, dict[str, MetricValue]]] = {}
        self._running: dict[str, int] = {}
        self._pending_load: dict[str, float] = {}
        self._profiles: dict[tuple[str, str], ModelGPUProfile] = {}
        self._traces: dict[str, ModelTrace] = {}
        self._predictors: dict[str, OutputPredictor] = {}

    # -- fed by the core ---------------------------------------------------------------------
    def set_pods(self, pods: Iterable[Pod]) -> None:
        """Replace every pod (from the API server watch); state of vanished pods is dropped,
        as v0.5.0 drops a deleted pod's metrics and counters with it."""
        new = {p.key: p for p in pods}
        by_model: dict[str, list[Pod]] = {}
        for pod in new.values():
            if pod.model:
                by_model.setdefault(pod.model, []).append(pod)
        with self._lock:
            self._pods = new
            self._by_model = {m: tuple(ps) for m, ps in by_model.items()}
            for store in (self._metrics, self._model_metrics, self._running, self._pending_load):
                for key in [k for k in store if k not in new]:
                    del store[key]

    def set_pod_metrics(self, pod: Pod, values: Mapping[str, MetricValue],
                        model_values: Mapping[str, Mapping[str, MetricValue]]) -> None:
        """Store one scrape. `values` had no `model_name` label: a pod-model metric among them
        belongs to the pod's own model (v0.5.0 updatePodRecord). Values not in this scrape stay
        as they were, as in v0.5.0, which only ever overwrites."""
        pod_level = dict(self._metrics.get(pod.key, {}))
        per_model = {m: dict(v) for m, v in self._model_metrics.get(pod.key, {}).items()}
        for model, named in [(pod.model, values), *model_values.items()]:
            for name, value in named.items():
                if scope_of(name) is Scope.POD:
                    pod_level[name] = value
                else:
                    per_model.setdefault(model, {})[name] = value
        with self._lock:
            if pod.key in self._pods:
                self._metrics[pod.key] = pod_level
                self._model_metrics[pod.key] = per_model

    def clear_pod_metrics(self, pod: Pod) -> None:
        """Forget every scraped value of `pod` (gateway-local counts stay)."""
        with self._lock:
            self._metrics.pop(pod.key, None)
            self._model_metrics.pop(pod.key, None)

    def set_model_profile(self, model: str, profile: Mapping[str, Any] | None,
                          deployment: str | None = None) -> None:
        """Store a GPU-optimizer profile (the JSON of `aibrix:profile_<model>_<deployment>`;
        the deployment is its `gpu` field). None removes the model's profiles (or only
        `deployment`'s). A profile older than the stored one is ignored, as in v0.5.0."""
        with self._lock:
            if profile is None:
                for key in [k for k in self._profiles
                            if k[0] == model and deployment in (None, k[1])]:
                    del self._profiles[key]
                return
            parsed = ModelGPUProfile.from_json(profile)
            key = (model, deployment or parsed.deployment)
            old = self._profiles.get(key)
            if old is None or old.created < parsed.created:
                self._profiles[key] = parsed

    # -- read by the algorithms --------------------------------------------------------------
    def list_pods_by_model(self, model: str) -> Sequence[Pod]:
        return self._by_model.get(model, ())

    def metric(self, pod: Pod, model: str, name: str) -> MetricValue | None:
        if scope_of(name) is Scope.POD:
            return self._metrics.get(pod.key, {}).get(name)
        return self._model_metrics.get(pod.key, {}).get(model, {}).get(name)

    def running_requests(self, pod: Pod) -> int:
        return self._running.get(pod.key, 0)

    def pending_load(self, pod: Pod) -> float:
        """`realtime_normalized_pendings`: SLO consumption of the pod's in-flight requests."""
        return self._pending_load.get(pod.key, 0.0)

    def profile(self, model: str, deployment: str) -> ModelGPUProfile | None:
        return self._profiles.get((model, deployment))

    def output_predictor(self, model: str) -> OutputPredictor:
        with self._lock:
            return self._predictors.setdefault(model, OutputPredictor())

    # -- request accounting (pkg/cache/cache_trace.go) ---------------------------------------
    def add_request_count(self, ctx: RoutingContext) -> None:
        """A request started; if routed, count it on its pod (and add its SLO load)."""
        with self._lock:
            trace = self._traces.setdefault(ctx.model, ModelTrace())
            trace.started += 1
            trace.pending += 1
            pod = ctx.target
            if pod is None or pod.key not in self._pods:
                return
            self._running[pod.key] = self._running.get(pod.key, 0) + 1
            if ctx.pending_load:
                load = self._pending_load.get(pod.key, 0.0)
                self._pending_load[pod.key] = load + ctx.pending_load

    def done_request(self, ctx: RoutingContext, prompt_tokens: int, output_tokens: int) -> None:
        """A request ended, with its usage when known (0, 0 otherwise)."""
        with self._lock:
            trace = self._traces.setdefault(ctx.model, ModelTrace())
            trace.finished += 1
            trace.pending -= 1
            if prompt_tokens or output_tokens:
                trace.tokens.append((prompt_tokens, output_tokens))
            pod = ctx.target
            if pod is not None and pod.key in self._pods:
                self._running[pod.key] = self._running.get(pod.key, 0) - 1
                if ctx.pending_load:
                    self._pending_load[pod.key] = (self._pending_load.get(pod.key, 0.0)
                                                   - ctx.pending_load)
        if prompt_tokens or output_tokens:
            self.output_predictor(ctx.model).add_trace(prompt_tokens, output_tokens)

    def take_trace(self, model: str) -> ModelTrace:
        """The model's trace since the last call, reset (what v0.5.0 flushes to Redis)."""
        with self._lock:
            trace = self._traces.pop(model, ModelTrace())
            self._traces[model] = ModelTrace(pending=trace.pending)
            return trace
