"""GPU memory: the requested share of VRAM fits what is free before vLLM starts (seed §4B)."""

from __future__ import annotations

import pytest

from brixcheck import gpu
from brixcheck.cluster.capability import Capability
from brixcheck.cluster.deployment import load_manifest
from brixcheck.cluster.gpu_memory import GpuMemory, gpu_memory, utilization_of
from brixcheck.cluster.target import Target
from brixcheck.conformance.case import Case
from brixcheck.fixtures.options import model_manifest

FITS = Case(
    id="GpuMemoryFitsUtilization",
    description="--gpu-memory-utilization x total VRAM fits the free VRAM of every GPU node "
                "(vLLM refuses to start otherwise).",
    checks="seed §4B (Engine core initialization failed / CUDA OOM)",
    remedy="lower --gpu-memory-utilization (0.7 on an 8 GB desktop card) or stop what holds "
           "VRAM (`nvidia-smi`, kill dead VLLM::EngineCore processes)",
    capabilities=frozenset({Capability.GPU_NODES}),
    diagnoses=("CudaOomAtStart", "OrphanedEngine"),
)


@pytest.mark.case(FITS)
def test_gpu_memory_fits_utilization(target: Target, request: pytest.FixtureRequest):
    deployment, _ = load_manifest(model_manifest(request.config))
    utilization = utilization_of(deployment)
    try:
        gpus: list[GpuMemory] = gpu_memory(target)
    except gpu.GpuUnavailableError as exc:
        pytest.skip(f"{exc.reason}; run the suite on the GPU node to check VRAM")
    request.node.case_details = {"utilization": utilization,
                                 "gpus": [g.describe(utilization) for g in gpus]}
    too_small = [g.describe(utilization) for g in gpus if not g.fits(utilization)]
    assert not too_small, "; ".join(too_small)
