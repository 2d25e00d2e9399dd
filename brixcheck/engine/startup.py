"""vLLM's start-up checks on the virtual GPU, with vLLM's own wording.

Two checks refuse to start an engine, in the order vLLM makes them:
1. at device init, `gpu_memory_utilization x total VRAM` must fit the free VRAM (the seed's
   CUDA OOM case: a desktop holding ~1 GB of an 8 GB card breaks 0.9, not 0.7);
2. after loading and profiling, the KV cache must hold one request of `max_model_len` tokens.
"""

from __future__ import annotations

from brixcheck.engine.args import EngineArgs
from brixcheck.engine.latency import MemoryPlan, plan_memory
from brixcheck.engine.profiles import GIB, Profile

ENGINE_INIT_FAILED = ("RuntimeError: Engine core initialization failed. See root cause above. "
                      "Failed core proc(s): {}")


class StartupError(Exception):
    """vLLM would exit during start-up; the message is vLLM's root cause."""


def _gib(value: float) -> float:
    return round(value / GIB, 2)


def gpu_used_bytes(profile: Profile, args: EngineArgs) -> int:
    """VRAM held by other processes on the virtual GPU before the engine starts."""
    if args.gpu_used_gib is not None:
        return int(args.gpu_used_gib * GIB)
    return profile.gpu.desktop_used_bytes


def check_free_memory(profile: Profile, args: EngineArgs) -> None:
    """Raise StartupError when the requested share of VRAM exceeds the free VRAM."""
    total = profile.gpu.vram_bytes
    free = total - gpu_used_bytes(profile, args)
    requested = total * args.gpu_memory_utilization
    if free < requested:
        raise StartupError(
            f"ValueError: Free memory on device ({_gib(free)}/{_gib(total)} GiB) on startup is "
            f"less than desired GPU memory utilization ({args.gpu_memory_utilization}, "
            f"{_gib(requested)} GiB). Decrease GPU memory utilization or reduce GPU memory "
            "used by other processes."
        )


def check_kv_capacity(profile: Profile, args: EngineArgs, max_model_len: int) -> MemoryPlan:
    """Return the memory plan, or raise StartupError when one max-length request cannot fit."""
    plan = plan_memory(profile, args.gpu_memory_utilization, args.block_size)
    if plan.kv_cache_bytes <= 0:
        raise StartupError("ValueError: No available memory for the cache blocks. Try "
                           "increasing `gpu_memory_utilization` when initializing the engine.")
    needed = max_model_len * profile.model.kv_bytes_per_token
    if needed > plan.kv_cache_bytes:
        raise StartupError(
            f"ValueError: To serve at least one request with the models's max seq len "
            f"({max_model_len}), ({_gib(needed)} GiB KV cache is needed), which is larger than "
            f"the available KV cache memory ({_gib(plan.kv_cache_bytes)} GiB). Based on the "
            f"available memory, the estimated maximum model length is {plan.kv_cache_tokens}. "
            "Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when "
            "initializing the engine."
        )
    return plan
