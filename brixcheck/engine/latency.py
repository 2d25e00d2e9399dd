"""Step-time and memory model derived from a profile's physical figures.

One engine step runs a forward pass over every scheduled token. It must read all weights once
and the KV cache of every sequence in the batch (memory-bound), and do 2 x params FLOPs per
token (compute-bound); it takes the longer of the two plus a fixed per-step overhead (scheduler,
sampling, kernel launches). So prefill time grows with uncached prompt tokens, and decode step
time grows with batch size and context length.
"""

from __future__ import annotations

from dataclasses import dataclass

from brixcheck.engine.profiles import Profile


@dataclass(frozen=True)
class MemoryPlan:
    """How vLLM would split the virtual GPU's memory at start-up."""

    budget_bytes: int
    weight_bytes: int
    overhead_bytes: int
    kv_cache_bytes: int
    kv_cache_tokens: int
    num_blocks: int


def plan_memory(profile: Profile, gpu_memory_utilization: float, block_size: int) -> MemoryPlan:
    """Split utilization x VRAM into weights, activation/graph overhead and KV blocks."""
    budget = int(profile.gpu.vram_bytes * gpu_memory_utilization)
    kv_bytes = budget - profile.model.weight_bytes - profile.non_kv_overhead_bytes
    per_token = profile.model.kv_bytes_per_token
    num_blocks = max(0, kv_bytes // (per_token * block_size))
    return MemoryPlan(
        budget_bytes=budget,
        weight_bytes=profile.model.weight_bytes,
        overhead_bytes=profile.non_kv_overhead_bytes,
        kv_cache_bytes=max(0, kv_bytes),
        kv_cache_tokens=num_blocks * block_size,
        num_blocks=num_blocks,
    )


class LatencyModel:
    """Seconds per engine step for a given number of tokens and total attended context."""

    def __init__(self, profile: Profile, slowdown: float = 1.0) -> None:
        gpu, model = profile.gpu, profile.model
        self._bandwidth = gpu.mem_bandwidth_bytes_per_s * gpu.bandwidth_efficiency
        self._flops = gpu.dense_fp16_flops * gpu.compute_efficiency
        self._weights = model.weight_bytes
        self._kv_per_token = model.kv_bytes_per_token
        self._flops_per_token = 2.0 * model.params
        self._overhead = gpu.step_overhead_s
        self.slowdown = slowdown

    def step_s(self, num_tokens: int, context_tokens: int) -> float:
        """Duration of one step computing `num_tokens` while attending `context_tokens`."""
        memory = (self._weights + self._kv_per_token * context_tokens) / self._bandwidth
        compute = self._flops_per_token * num_tokens / self._flops
        return (self._overhead + max(memory, compute)) * self.slowdown
