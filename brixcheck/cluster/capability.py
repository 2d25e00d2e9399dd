"""What a target offers: the capabilities a conformance case or a benchmark may need."""

from __future__ import annotations

from enum import StrEnum


class Capability(StrEnum):
    """Observable behaviours a target may or may not offer."""

    KUBERNETES_API = "KubernetesApi"
    GPU_NODES = "GpuNodes"
    NVML = "Nvml"
    REAL_KUBELET = "RealKubelet"
    MODEL_PODS = "ModelPods"
    AIBRIX_STACK = "AIBrixStack"
    AIBRIX_GATEWAY = "AIBrixGateway"
    CONTAINER_RUNTIME = "ContainerRuntime"
    LOADGEN_PODS = "LoadgenPods"  # the in-cluster Locust Jobs' pods run (the twin: its backer)
