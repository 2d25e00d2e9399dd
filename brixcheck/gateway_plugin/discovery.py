"""Pods and engine metrics into the gateway cache, as AIBrix v0.5.0's ``pkg/cache`` does.

- Pods (pkg/cache/informers.go): every pod labelled ``model.aibrix.ai/name``, in all namespaces,
  from a list-and-watch on the API server; pods labelled ``ray.io/node-type=worker`` are
  ignored. Each change replaces the cache's pod set (``set_pods``).
- Metrics (pkg/cache/cache_metrics.go, pkg/metrics/metrics.go): every
  ``AIBRIX_POD_METRIC_REFRESH_INTERVAL_MS`` (default 50 ms) each pod's
  ``http://<podIP>:<model.aibrix.ai/metric-port or 8000>/metrics`` is read and the metrics
  v0.5.0 knows are kept under its names without the ``vllm:`` prefix. An engine exposing
  other names (vLLM >= 0.11 renamed several) leaves them unset, which is what makes the
  metric-driven strategies fall back to random there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx
from kubernetes import client, watch

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.gateway_plugin.types import Histogram, MetricValue, Pod

log = logging.getLogger(__name__)

WORKER_LABEL, WORKER_VALUE = "ray.io/node-type", "worker"
DEFAULT_REFRESH_MS = 50
SCRAPE_TIMEOUT_S = 1.0
WATCH_TIMEOUT_S = 300
PREFIX = "vllm:"
# cache_metrics.go counterGaugeMetricNames and histogramMetricNames, engine names of vLLM.
GAUGES = frozenset({
    "num_requests_running", "num_requests_waiting", "num_requests_swapped",
    "prompt_tokens_total", "generation_tokens_total", "avg_prompt_throughput_toks_per_s",
    "avg_generation_throughput_toks_per_s", "gpu_cache_usage_perc", "cpu_cache_usage_perc"})
HISTOGRAMS = frozenset({
    "iteration_tokens_total", "time_to_first_token_seconds", "time_per_output_token_seconds",
    "e2e_request_latency_seconds", "request_queue_time_seconds",
    "request_inference_time_seconds", "request_decode_time_seconds",
    "request_prefill_time_seconds"})


def pod_from_object(obj: Mapping[str, Any]) -> Pod | None:
    """A cache Pod from an API pod dict, or None when v0.5.0 ignores it."""
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    labels = meta.get("labels") or {}
    if aibrix.LABEL_MODEL_NAME not in labels or labels.get(WORKER_LABEL) == WORKER_VALUE:
        return None
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in status.get("conditions") or [])
    return Pod(name=meta.get("name", ""), namespace=meta.get("namespace", ""),
               ip=status.get("podIP") or "", labels=dict(labels), ready=ready,
               terminating=meta.get("deletionTimestamp") is not None)


class PodWatch:
    """List-and-watch pods in a thread; hand every new pod set to `publish` on the loop."""

    def __init__(self, api_client: client.ApiClient, publish: Callable[[list[Pod]], None],
                 loop: asyncio.AbstractEventLoop) -> None:
        self._core = client.CoreV1Api(api_client)
        self._publish, self._loop = publish, loop
        self._pods: dict[str, Pod] = {}
        self._stop = threading.Event()
        self.synced = threading.Event()

    def start(self) -> None:
        """Run the watch in a daemon thread."""
        threading.Thread(target=self._run, name="pod-watch", daemon=True).start()

    def stop(self) -> None:
        """Ask the thread to end at its next event or timeout."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._list_and_watch()
            except Exception as exc:  # noqa: BLE001 - the informer retries any failure
                log.warning("pod watch failed, retrying in 1 s: %s", exc)
                self._stop.wait(1.0)

    def _list_and_watch(self) -> None:
        listing = self._core.list_pod_for_all_namespaces(
            label_selector=aibrix.LABEL_MODEL_NAME, _preload_content=False)
        document = json.loads(listing.data)
        self._pods = {}
        for item in document.get("items", []):
            self._apply("ADDED", item)
        self._emit()
        self.synced.set()
        stream = watch.Watch().stream(
            self._core.list_pod_for_all_namespaces, label_selector=aibrix.LABEL_MODEL_NAME,
            resource_version=document["metadata"]["resourceVersion"],
            timeout_seconds=WATCH_TIMEOUT_S, _preload_content=False)
        for event in stream:
            if self._stop.is_set():
                return
            self._apply(event["type"], event["raw_object"])
            self._emit()

    def _apply(self, kind: str, obj: Mapping[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        pod = pod_from_object(obj) if kind != "DELETED" else None
        if pod is None:
            self._pods.pop(key, None)
        else:
            self._pods[key] = pod

    def _emit(self) -> None:
        pods = list(self._pods.values())
        self._loop.call_soon_threadsafe(self._publish, pods)


def _labels(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in text.split('",'):
        key, _, value = part.partition('="')
        if key:
            found[key.strip(" ,")] = value.rstrip('"')
    return found


def parse_metrics(text: str, default_model: str) -> dict[str, dict[str, MetricValue]]:
    """v0.5.0's metrics of one /metrics page by model: gauges/counters and histograms."""
    simple: dict[str, dict[str, float]] = {}
    hist: dict[str, dict[str, dict[str, Any]]] = {}
    for line in text.splitlines():
        if not line.startswith(PREFIX):
            continue
        name_labels, _, value_text = line.rpartition(" ")
        name, _, label_text = name_labels.partition("{")
        name = name[len(PREFIX):]
        labels = _labels(label_text.rstrip("}"))
        model = labels.get("model_name") or default_model
        try:
            value = float(value_text)
        except ValueError:
            continue
        if name in GAUGES:
            simple.setdefault(model, {})[name] = value
            continue
        base, _, suffix = name.rpartition("_")
        if base not in HISTOGRAMS:
            continue
        entry = hist.setdefault(model, {}).setdefault(base, {"buckets": {}, "sum": 0.0,
                                                             "count": 0.0})
        if suffix == "bucket":
            entry["buckets"][float(labels.get("le", "inf"))] = value
        elif suffix in ("sum", "count"):
            entry[suffix] = value
    result: dict[str, dict[str, MetricValue]] = {m: dict(v) for m, v in simple.items()}
    for model, families in hist.items():
        for base, entry in families.items():
            result.setdefault(model, {})[base] = Histogram(entry["buckets"], entry["sum"],
                                                           entry["count"])
    return result


class MetricsScraper:
    """Read every pod's /metrics each interval and feed the cache (set_pod_metrics)."""

    def __init__(self, cache: Any, interval_s: float) -> None:
        self.cache, self.interval_s = cache, interval_s
        self.pods: list[Pod] = []
        self.scrapes = 0
        self._http = httpx.AsyncClient(timeout=SCRAPE_TIMEOUT_S, trust_env=False)

    async def run(self) -> None:
        """Scrape forever; a failed pod keeps its last values, as v0.5.0 logs and moves on."""
        while True:
            pods = [p for p in self.pods if p.ip]
            await asyncio.gather(*(self._scrape(p) for p in pods))
            await asyncio.sleep(self.interval_s)

    async def _scrape(self, pod: Pod) -> None:
        try:
            response = await self._http.get(f"http://{pod.ip}:{pod.metric_port}/metrics")
        except httpx.HTTPError:
            return
        if response.status_code != 200:
            return
        self.scrapes += 1
        self.cache.set_pod_metrics(pod, {}, parse_metrics(response.text, pod.model))

    def forget(self, gone: Iterable[Pod]) -> None:
        """Drop the metrics of pods that left the cache."""
        for pod in gone:
            self.cache.clear_pod_metrics(pod)

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()
