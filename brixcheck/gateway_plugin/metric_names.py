"""AIBrix v0.5.0's metric table (``pkg/metrics/metrics.go``): the gateway-local names the routing
algorithms read, which scraped Prometheus name feeds each per engine, and where it is stored.

The core parses an engine's ``/metrics`` with ``v05_names_for(engine)`` and ``label_metrics_for``
and feeds ``GatewayCache.set_pod_metrics``; a name the engine does not export is simply never
stored, so a strategy that needs it falls back to random exactly as v0.5.0 does on vLLM >= 0.11.
The suite's own view of the same facts (which strategies an exposition feeds) is
``brixcheck.aibrix.metric_names``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from brixcheck.aibrix import v0_5 as aibrix

DEFAULT_ENGINE: Final = "vllm"  # pkg/metrics/utils.go GetEngineType: no label means vLLM


class Scope(StrEnum):
    """Where a value is kept: per pod, or per pod and model (`model_name` label)."""

    POD = "pod"
    POD_MODEL = "pod-model"


class Kind(StrEnum):
    SIMPLE = "counter/gauge"
    HISTOGRAM = "histogram"
    LABEL = "label of an info metric"
    PROMQL = "PromQL query (only with PROMETHEUS_ENDPOINT)"
    GATEWAY = "gateway-local realtime value"
    UNSCRAPED = "declared, never fed"


@dataclass(frozen=True)
class MetricDef:
    name: str
    scope: Scope
    kind: Kind
    engines: Mapping[str, str] = field(default_factory=dict)  # engine -> scraped name
    label_key: str = ""


def _raw(name: str, kind: Kind, **engines: str) -> MetricDef:
    return MetricDef(name, Scope.POD_MODEL, kind, engines)


_S, _H = Kind.SIMPLE, Kind.HISTOGRAM
# v0.5.0 scrapes exactly these (cache_metrics.go counterGaugeMetricNames, histogramMetricNames,
# labelQueryMetricNames); the engine keys and names are metrics.go's EngineMetricsNameMapping.
METRICS: Final = {m.name: m for m in (
    _raw("num_requests_running", _S, vllm="vllm:num_requests_running",
         sglang="sglang:num_running_reqs"),
    _raw("num_requests_waiting", _S, vllm="vllm:num_requests_waiting",
         sglang="sglang:num_waiting_reqs"),
    _raw("num_requests_swapped", _S, vllm="vllm:num_requests_swapped"),
    _raw("prompt_token_total", _S, vllm="vllm:prompt_tokens_total"),
    _raw("generation_token_total", _S, vllm="vllm:generation_tokens_total"),
    _raw("avg_prompt_throughput_toks_per_s", _S, vllm="vllm:avg_prompt_throughput_toks_per_s"),
    _raw("avg_generation_throughput_toks_per_s", _S,
         vllm="vllm:avg_generation_throughput_toks_per_s", sglang="sglang:gen_throughput"),
    _raw("gpu_cache_usage_perc", _S, vllm="vllm:gpu_cache_usage_perc",
         sglang="sglang:token_usage", xllm="kv_cache_utilization"),
    _raw("cpu_cache_usage_perc", _S, vllm="vllm:cpu_cache_usage_perc"),
    _raw("engine_utilization", _S, xllm="engine_utilization"),
    _raw("iteration_tokens_total", _H, vllm="vllm:iteration_tokens_total"),
    _raw("time_to_first_token_seconds", _H, vllm="vllm:time_to_first_token_seconds",
         sglang="sglang:time_to_first_token_seconds"),
    _raw("time_per_output_token_seconds", _H, vllm="vllm:time_per_output_token_seconds",
         sglang="sglang:inter_token_latency_seconds"),
    _raw("e2e_request_latency_seconds", _H, vllm="vllm:e2e_request_latency_seconds",
         sglang="sglang:e2e_request_latency_seconds"),
    _raw("request_queue_time_seconds", _H, vllm="vllm:request_queue_time_seconds"),
    _raw("request_inference_time_seconds", _H, vllm="vllm:request_inference_time_seconds"),
    _raw("request_decode_time_seconds", _H, vllm="vllm:request_decode_time_seconds"),
    _raw("request_prefill_time_seconds", _H, vllm="vllm:request_prefill_time_seconds"),
    *(MetricDef(n, Scope.POD, Kind.LABEL, {"vllm": "vllm:lora_requests_info"}, label_key=n)
      for n in ("max_lora", "running_lora_adapters", "waiting_lora_adapters")),
    # Filled only from Prometheus (PROMETHEUS_ENDPOINT); least-latency needs these two.
    MetricDef("avg_prompt_toks_per_req", Scope.POD_MODEL, Kind.PROMQL),
    MetricDef("avg_generation_toks_per_req", Scope.POD_MODEL, Kind.PROMQL),
    # Declared but fed by nothing in v0.5.0: least-busy-time reads it and always falls back.
    MetricDef("gpu_busy_time_ratio", Scope.POD, Kind.UNSCRAPED),
    MetricDef("realtime_num_requests_running", Scope.POD, Kind.GATEWAY),
    MetricDef("realtime_normalized_pendings", Scope.POD, Kind.GATEWAY),
)}
SCRAPED_KINDS: Final = (Kind.SIMPLE, Kind.HISTOGRAM)


def engine_of(labels: Mapping[str, str]) -> str:
    """The pod's engine from `model.aibrix.ai/engine`, vLLM when absent or empty."""
    return labels.get(aibrix.LABEL_ENGINE) or DEFAULT_ENGINE


def v05_names_for(engine: str) -> Mapping[str, str]:
    """Scraped counter/gauge/histogram name -> v0.5.0 name, for one engine (empty if unknown)."""
    return {m.engines[engine]: m.name for m in METRICS.values()
            if m.kind in SCRAPED_KINDS and engine in m.engines}


def label_metrics_for(engine: str) -> Mapping[str, tuple[str, str]]:
    """v0.5.0 name -> (scraped info metric, label whose value is stored), for one engine."""
    return {m.name: (m.engines[engine], m.label_key) for m in METRICS.values()
            if m.kind is Kind.LABEL and engine in m.engines}


def scope_of(name: str) -> Scope:
    """Where `name` is kept; names outside the table are treated as pod-model, like raw ones."""
    metric = METRICS.get(name)
    return metric.scope if metric else Scope.POD_MODEL
