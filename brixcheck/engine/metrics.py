"""Prometheus metrics with vLLM v0.11 names, plus the V0-era names AIBrix v0.5.0 reads.

`modern` emits what vLLM v0.11 (V1 engine) exports by default. `legacy` adds the names the AIBrix
v0.5.0 gateway scrapes (`gpu_cache_usage_perc`, `cpu_cache_usage_perc`, `num_requests_swapped`,
`avg_*_throughput_toks_per_s`), as the upstream mock app does, so the twin can show both worlds:
metric-driven strategies working (legacy) or silently falling back to random (modern).
Each engine has its own registry; one process serves many engines.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
                5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0,
               7.5, 10.0, 20.0, 40.0, 80.0)
REQUEST_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
                   60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)
ITERATION_BUCKETS = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
THROUGHPUT_WINDOW_S = 5.0


class MetricNames(StrEnum):
    """Which generation of vLLM metric names an engine exports."""

    MODERN = "modern"
    LEGACY = "legacy"


def token_buckets(max_value: int) -> tuple[float, ...]:
    """1-2-5 buckets up to `max_value`, as vLLM builds them for token-count histograms."""
    buckets: list[float] = []
    exponent = 0
    while True:
        for mantissa in (1, 2, 5):
            value = mantissa * 10**exponent
            if value > max_value:
                return tuple(buckets)
            buckets.append(value)
        exponent += 1


@dataclass(frozen=True)
class GaugeState:
    """Scheduler state read at scrape time."""

    running: int
    waiting: int
    kv_usage: float
    preemptions: int
    prefix_queries: int
    prefix_hits: int
    prompt_tokens: int
    generation_tokens: int


@dataclass(frozen=True)
class RequestTimes:
    """Model-time stamps of one finished request, in seconds."""

    arrival_s: float
    scheduled_s: float
    first_token_s: float
    finished_s: float
    prompt_tokens: int
    output_tokens: int
    max_tokens: int
    finish_reason: str


class _StateCollector(Collector):
    """Gauges and counters read from the scheduler when scraped."""

    def __init__(self, labels: dict[str, str], names: MetricNames, cache_info: dict[str, str],
                 read: Callable[[], GaugeState]) -> None:
        self._labels = labels
        self.names = names
        self._cache_info = cache_info
        self._read = read
        self._window: deque[tuple[float, int, int]] = deque()

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        state = self._read()
        yield self._gauge("vllm:num_requests_running", "Number of requests in model execution "
                          "batches.", state.running)
        yield self._gauge("vllm:num_requests_waiting", "Number of requests waiting to be "
                          "processed.", state.waiting)
        yield self._gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent "
                          "usage.", state.kv_usage)
        yield self._counter("vllm:num_preemptions", "Cumulative number of preemption from the "
                            "engine.", state.preemptions)
        yield self._counter("vllm:prefix_cache_queries", "Prefix cache queries, in terms of "
                            "number of queried tokens.", state.prefix_queries)
        yield self._counter("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number "
                            "of cached tokens.", state.prefix_hits)
        yield self._counter("vllm:prompt_tokens", "Number of prefill tokens processed.",
                            state.prompt_tokens)
        yield self._counter("vllm:generation_tokens", "Number of generation tokens processed.",
                            state.generation_tokens)
        info = GaugeMetricFamily("vllm:cache_config_info", "Information of the LLMEngine "
                                 "CacheConfig", labels=sorted(self._cache_info))
        info.add_metric([self._cache_info[k] for k in sorted(self._cache_info)], 1.0)
        yield info
        if self.names is MetricNames.LEGACY:
            yield from self._legacy(state)

    def _legacy(self, state: GaugeState) -> Iterator[GaugeMetricFamily]:
        prompt_rate, generation_rate = self._rates(state)
        yield self._gauge("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 "
                          "percent usage.", state.kv_usage)
        yield self._gauge("vllm:cpu_cache_usage_perc", "CPU KV-cache usage. 1 means 100 "
                          "percent usage.", 0.0)
        yield self._gauge("vllm:num_requests_swapped", "Number of requests swapped to CPU.", 0)
        yield self._gauge("vllm:avg_prompt_throughput_toks_per_s", "Average prefill "
                          "throughput in tokens/s.", prompt_rate)
        yield self._gauge("vllm:avg_generation_throughput_toks_per_s", "Average generation "
                          "throughput in tokens/s.", generation_rate)

    def _rates(self, state: GaugeState) -> tuple[float, float]:
        """Token rates over the last few seconds, as V0's stat logger computed them."""
        now = time.monotonic()
        self._window.append((now, state.prompt_tokens, state.generation_tokens))
        while len(self._window) > 2 and now - self._window[1][0] >= THROUGHPUT_WINDOW_S:
            self._window.popleft()
        first_s, first_prompt, first_gen = self._window[0]
        elapsed = now - first_s
        if elapsed <= 0:
            return 0.0, 0.0
        return ((state.prompt_tokens - first_prompt) / elapsed,
                (state.generation_tokens - first_gen) / elapsed)

    def _gauge(self, name: str, doc: str, value: float) -> GaugeMetricFamily:
        family = GaugeMetricFamily(name, doc, labels=list(self._labels))
        family.add_metric(list(self._labels.values()), value)
        return family

    def _counter(self, name: str, doc: str, value: float) -> CounterMetricFamily:
        family = CounterMetricFamily(name, doc, labels=list(self._labels))
        family.add_metric(list(self._labels.values()), value)
        return family


class EngineMetrics:
    """One engine's registry: event-driven histograms plus scrape-time state."""

    def __init__(self, model_name: str, names: MetricNames, max_model_len: int,
                 cache_info: dict[str, str], read_state: Callable[[], GaugeState]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        labels = {"model_name": model_name, "engine": "0"}
        self._labels = labels
        self._state = _StateCollector(labels, names, cache_info, read_state)
        self.registry.register(self._state)
        label_names = list(labels)
        tokens = token_buckets(max_model_len)

        def hist(name: str, doc: str, buckets: tuple[float, ...]) -> Histogram:
            return Histogram(name, doc, label_names, buckets=buckets,
                             registry=self.registry).labels(**labels)

        self.iteration_tokens = hist("vllm:iteration_tokens_total",
                                     "Histogram of number of tokens per engine_step.",
                                     ITERATION_BUCKETS)
        self.ttft = hist("vllm:time_to_first_token_seconds",
                         "Histogram of time to first token in seconds.", TTFT_BUCKETS)
        self.itl = hist("vllm:inter_token_latency_seconds",
                        "Histogram of inter-token latency in seconds.", ITL_BUCKETS)
        self.tpot = hist("vllm:time_per_output_token_seconds",
                         "Histogram of time per output token in seconds. DEPRECATED: Use "
                         "vllm:inter_token_latency_seconds instead.", ITL_BUCKETS)
        self.e2e = hist("vllm:e2e_request_latency_seconds",
                        "Histogram of e2e request latency in seconds.", REQUEST_BUCKETS)
        self.queue = hist("vllm:request_queue_time_seconds",
                          "Histogram of time spent in WAITING phase for request.",
                          REQUEST_BUCKETS)
        self.inference = hist("vllm:request_inference_time_seconds",
                              "Histogram of time spent in RUNNING phase for request.",
                              REQUEST_BUCKETS)
        self.prefill = hist("vllm:request_prefill_time_seconds",
                            "Histogram of time spent in PREFILL phase for request.",
                            REQUEST_BUCKETS)
        self.decode = hist("vllm:request_decode_time_seconds",
                           "Histogram of time spent in DECODE phase for request.",
                           REQUEST_BUCKETS)
        self.prompt_tokens = hist("vllm:request_prompt_tokens",
                                  "Number of prefill tokens processed.", tokens)
        self.generation_tokens = hist("vllm:request_generation_tokens",
                                      "Number of generation tokens processed.", tokens)
        self.params_max_tokens = hist("vllm:request_params_max_tokens",
                                      "Histogram of the max_tokens request parameter.", tokens)
        self._success = Counter("vllm:request_success", "Count of successfully processed "
                                "requests.", [*label_names, "finished_reason"],
                                registry=self.registry)

    def set_names(self, names: MetricNames) -> None:
        """Switch between modern and legacy metric names while running."""
        self._state.names = names

    def observe_token_gap(self, gap_s: float) -> None:
        """Record one inter-token gap."""
        self.itl.observe(gap_s)
        self.tpot.observe(gap_s)

    def observe_request(self, times: RequestTimes) -> None:
        """Record a finished request's phase times and token counts."""
        self.ttft.observe(times.first_token_s - times.arrival_s)
        self.e2e.observe(times.finished_s - times.arrival_s)
        self.queue.observe(times.scheduled_s - times.arrival_s)
        self.inference.observe(times.finished_s - times.scheduled_s)
        self.prefill.observe(times.first_token_s - times.scheduled_s)
        self.decode.observe(times.finished_s - times.first_token_s)
        self.prompt_tokens.observe(times.prompt_tokens)
        self.generation_tokens.observe(times.output_tokens)
        self.params_max_tokens.observe(times.max_tokens)
        self._success.labels(**self._labels, finished_reason=times.finish_reason).inc()

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)
