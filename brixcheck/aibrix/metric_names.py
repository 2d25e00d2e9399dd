"""Which AIBrix v0.5.0 routing strategies an engine's /metrics can feed.

AIBrix v0.5.0's gateway scrapes every Ready pod's `/metrics` and routes the metric-driven
strategies on a few vLLM names (`STRATEGIES` in `brixcheck.aibrix.v0_5`); a strategy whose
names are absent silently falls back to random. This module reads a Prometheus exposition and
says, per strategy, which it is. It also notes the current vLLM names that replaced the V0 ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from brixcheck.aibrix.v0_5 import STRATEGIES, Reads

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count", "_created")
# V0 name AIBrix v0.5.0 reads -> what a current vLLM exports instead (None: nothing).
SUCCESSORS = {
    "vllm:gpu_cache_usage_perc": "vllm:kv_cache_usage_perc",
    "vllm:cpu_cache_usage_perc": None,
    "vllm:avg_prompt_throughput_toks_per_s": None,
    "vllm:avg_generation_throughput_toks_per_s": None,
    "vllm:num_requests_swapped": None,
    "vllm:time_per_output_token_seconds": "vllm:inter_token_latency_seconds",
}


def sample_names(exposition: str) -> set[str]:
    """Every metric name in a Prometheus text exposition (histogram series folded)."""
    names = set()
    for line in exposition.splitlines():
        if not line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        for suffix in HISTOGRAM_SUFFIXES:
            if name.endswith(suffix):
                name = name.removesuffix(suffix)
                break
        names.add(name)
    return names


@dataclass
class StrategyFeed:
    """Per metric-driven strategy: the names it reads that the engine lacks."""

    missing: dict[str, list[str]] = field(default_factory=dict)
    present: set[str] = field(default_factory=set)

    @property
    def random(self) -> list[str]:
        """Strategies that fall back to random on this engine."""
        return [name for name, lacks in self.missing.items() if lacks]

    def verdicts(self) -> dict[str, str]:
        """Strategy -> one phrase, for a report."""
        return {name: ("routes on engine metrics" if not lacks
                       else f"random (engine lacks {', '.join(lacks)})")
                for name, lacks in self.missing.items()}

    def successors(self) -> dict[str, str | None]:
        """Missing V0 names -> the current name the engine exports instead, if any."""
        lacking = {n for lacks in self.missing.values() for n in lacks}
        return {old: new if new in self.present else None
                for old, new in SUCCESSORS.items() if old in lacking}


def feed(exposition: str) -> StrategyFeed:
    """Check an exposition against every v0.5.0 strategy that reads engine metrics."""
    present = sample_names(exposition)
    result = StrategyFeed(present=present)
    for strategy in STRATEGIES:
        if strategy.reads is Reads.ENGINE_METRICS:
            result.missing[strategy.name] = [n for n in strategy.metric_names
                                             if n not in present]
    return result
