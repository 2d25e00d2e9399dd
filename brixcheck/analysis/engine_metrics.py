"""Which vLLM /metrics series telemetry keeps, read from a Prometheus text exposition.

Both generations of names are kept, because the twin's engines and real deployments export
either: `kv_cache_usage_perc` (vLLM V1, >= 0.10) and `gpu_cache_usage_perc` (V0, what AIBrix
v0.5.0 reads); `prefix_cache_queries/hits` (V1, emulator and vLLM 0.32) and
`gpu_prefix_cache_queries/hits` (their V1 names before vLLM renamed them). Counter names are
stored without the exposition's `_total` suffix, so a counter has one name whether or not the
exposition declared its type.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from brixcheck.analysis.samples import ENGINE, Sample

RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"
KV_USAGE = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")  # preferred first
PREFIX_QUERIES = ("vllm:prefix_cache_queries", "vllm:gpu_prefix_cache_queries")
PREFIX_HITS = ("vllm:prefix_cache_hits", "vllm:gpu_prefix_cache_hits")
PROMPT_TOKENS = "vllm:prompt_tokens"
GENERATION_TOKENS = "vllm:generation_tokens"
REQUEST_SUCCESS = "vllm:request_success"  # finished requests: per-pod counts behind any router
KEPT = frozenset({RUNNING, WAITING, *KV_USAGE, *PREFIX_QUERIES, *PREFIX_HITS, PROMPT_TOKENS,
                  GENERATION_TOKENS, "vllm:num_preemptions", REQUEST_SUCCESS})


def metric_name(sample_name: str) -> str:
    """A sample's metric name without the counter suffix `_total`."""
    return sample_name.removesuffix("_total")


def kept_samples(exposition: str, pod: str) -> list[Sample]:
    """The kept series of one pod's exposition.

    Args:
        exposition: the Prometheus text of `/metrics`.
        pod: the pod's name (the samples' instance).

    Returns:
        One sample per kept series; `_created` timestamps and histograms are skipped.

    Raises:
        ValueError: the text is not a Prometheus exposition.
    """
    out = []
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            name = metric_name(sample.name)
            if name not in KEPT:
                continue
            # Labels are kept whole: with data parallelism one pod exports a series per
            # `engine`, and merging them would corrupt counter increases.
            out.append(Sample(ENGINE, pod, name, dict(sample.labels), float(sample.value)))
    return out
