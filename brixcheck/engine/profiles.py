"""Hardware + model profiles for the engine emulator.

A profile names a GPU and a model and holds the physical figures the latency model is derived
from. Each figure says where it comes from, so a reader can check or replace it. The profile does
not hold timings directly: step times follow from bandwidth, compute rate and bytes moved
(see `brixcheck.engine.latency`).
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3


@dataclass(frozen=True)
class GpuSpec:
    """A GPU as the latency model sees it."""

    name: str
    vram_bytes: int
    mem_bandwidth_bytes_per_s: float
    dense_fp16_flops: float
    bandwidth_efficiency: float
    compute_efficiency: float
    step_overhead_s: float
    desktop_used_bytes: int


@dataclass(frozen=True)
class ModelSpec:
    """A model's size and KV-cache geometry."""

    hf_id: str
    params: float
    weight_bytes: int
    num_layers: int
    num_kv_heads: int
    head_dim: int
    kv_dtype_bytes: int
    max_model_len: int
    mean_output_tokens: int

    @property
    def kv_bytes_per_token(self) -> int:
        """Bytes of K and V for one token across all layers."""
        return 2 * self.num_layers * self.num_kv_heads * self.head_dim * self.kv_dtype_bytes


@dataclass(frozen=True)
class Profile:
    """A named GPU + model pair with the start-up costs of serving it."""

    name: str
    gpu: GpuSpec
    model: ModelSpec
    load_time_s: float
    non_kv_overhead_bytes: int
    default_max_num_seqs: int
    default_max_num_batched_tokens: int


# RTX 4060 (AD107, desktop): 8 GB GDDR6 on a 128-bit bus at 17 Gbps -> 128 / 8 * 17e9 = 272 GB/s.
# NVML reports 8188 MiB total for this card. Tensor FP16 dense with FP16 accumulate: about
# 60 TFLOP/s (Ada whitepaper figure for the 4060 class; half of it with FP32 accumulate). The
# seed notebook says the desktop (GNOME, Firefox) holds about 1 GB.
RTX4060_8GB = GpuSpec(
    name="NVIDIA GeForce RTX 4060",
    vram_bytes=8188 * 1024**2,
    mem_bandwidth_bytes_per_s=272e9,
    dense_fp16_flops=60e12,
    bandwidth_efficiency=0.80,
    compute_efficiency=0.45,
    step_overhead_s=0.0020,
    desktop_used_bytes=1 * GIB,
)

# H100 80GB HBM3 (SXM): NVML total 85,520,809,984 B; 2,619 MHz x 5,120-bit x 2 / 8 = 3.35 TB/s
# (shared/docs/gpu-nvml.md); 989 TFLOP/s dense BF16 (NVIDIA datasheet). Small models on an H100 are
# bound by per-step CPU work, hence the larger overhead share.
H100_80GB = GpuSpec(
    name="NVIDIA H100 80GB HBM3",
    vram_bytes=85_520_809_984,
    mem_bandwidth_bytes_per_s=3.35e12,
    dense_fp16_flops=989e12,
    bandwidth_efficiency=0.80,
    compute_efficiency=0.40,
    step_overhead_s=0.0030,
    desktop_used_bytes=503_316_480,
)

# DeepSeek-R1-Distill-Qwen-1.5B: Qwen2 architecture, 28 layers, 2 KV heads of dim 128, 1.78e9
# parameters including the 151,936 x 1,536 embedding; bf16 weights 3.55 GB (safetensors size).
# KV per token = 2 x 28 x 2 x 128 x 2 B = 28,672 B. max_position_embeddings 131,072; vLLM uses it
# as the default max_model_len.
DEEPSEEK_R1_QWEN_1_5B = ModelSpec(
    hf_id="deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
    params=1.777e9,
    weight_bytes=3_554_176_000,
    num_layers=28,
    num_kv_heads=2,
    head_dim=128,
    kv_dtype_bytes=2,
    max_model_len=131_072,
    mean_output_tokens=256,
)

DEFAULT_PROFILE = "rtx4060-8gb"  # the seed's consumer GPU; the twin's nodes default to it

PROFILES: dict[str, Profile] = {
    # Load time: weights already on local disk; safetensors read + torch.compile + CUDA-graph
    # capture on a consumer box takes about a minute (the seed's ~3 min includes the download).
    # Non-KV overhead: activation peak of a 2048-token profiling run + CUDA graphs + non-torch.
    DEFAULT_PROFILE: Profile(
        name=DEFAULT_PROFILE,
        gpu=RTX4060_8GB,
        model=DEEPSEEK_R1_QWEN_1_5B,
        load_time_s=75.0,
        non_kv_overhead_bytes=int(0.60 * GIB),
        default_max_num_seqs=256,
        default_max_num_batched_tokens=2048,
    ),
    "h100-80gb": Profile(
        name="h100-80gb",
        gpu=H100_80GB,
        model=DEEPSEEK_R1_QWEN_1_5B,
        load_time_s=45.0,
        non_kv_overhead_bytes=int(2.5 * GIB),
        default_max_num_seqs=1024,
        default_max_num_batched_tokens=8192,
    ),
}


def get_profile(name: str) -> Profile:
    """Return the profile called `name`, or raise ValueError listing the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(f"unknown engine profile {name!r}; choose one of: {known}") from None
