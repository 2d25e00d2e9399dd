"""A stand-in for the algorithms package until it lands on this branch: a plain pod cache and the
`random` strategy with v0.5.0's single-pod shortcut. The core imports `state.GatewayCache` and
`algorithms.select_pod` when they exist and falls back to these otherwise (`routing.py`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from brixcheck.gateway_plugin.types import MetricValue, Pod, RoutingContext, RoutingError

STRATEGIES = ("random",)


class InterimCache:
    """Pods by model, scraped metrics and in-flight counts; the `types.Cache` protocol."""

    def __init__(self) -> None:
        self._pods: dict[str, list[Pod]] = {}
        self._metrics: dict[str, dict[str, Mapping[str, MetricValue]]] = {}
        self._running: dict[str, int] = {}

    def set_pods(self, pods: Iterable[Pod]) -> None:
        by_model: dict[str, list[Pod]] = {}
        for pod in pods:
            by_model.setdefault(pod.model, []).append(pod)
        self._pods = by_model

    def set_pod_metrics(self, pod: Pod, values: Mapping[str, MetricValue],
                        model_values: Mapping[str, Mapping[str, MetricValue]]) -> None:
        self._metrics[pod.key] = {"": values, **model_values}

    def clear_pod_metrics(self, pod: Pod) -> None:
        self._metrics.pop(pod.key, None)

    def set_model_profile(self, model: str, profile: Mapping[str, Any] | None) -> None:
        """Profiles matter to the slo strategies only."""

    def list_pods_by_model(self, model: str) -> Sequence[Pod]:
        return self._pods.get(model, [])

    def metric(self, pod: Pod, model: str, name: str) -> MetricValue | None:
        scopes = self._metrics.get(pod.key, {})
        return scopes.get(model, {}).get(name, scopes.get("", {}).get(name))

    def running_requests(self, pod: Pod) -> int:
        return self._running.get(pod.key, 0)

    def add_request_count(self, ctx: RoutingContext) -> None:
        if ctx.target is not None:
            self._running[ctx.target.key] = self._running.get(ctx.target.key, 0) + 1

    def done_request(self, ctx: RoutingContext, prompt_tokens: int, output_tokens: int) -> None:
        if ctx.target is not None and self._running.get(ctx.target.key, 0) > 0:
            self._running[ctx.target.key] -= 1


def select_pod(name: str, ctx: RoutingContext, ready_pods: Sequence[Pod],  # noqa: ARG001
               cache: Any) -> Pod:  # noqa: ARG001
    """The single ready pod without a router (gateway.go), else a uniform random choice."""
    if not ready_pods:
        raise RoutingError("no ready pods for routing")
    if len(ready_pods) == 1:
        return ready_pods[0]
    return random.choice(ready_pods)
