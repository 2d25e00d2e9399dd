"""The registered checks, in the order their findings are printed.

Each check is a function `Observed -> list[Finding]`; adding one means writing the function
and listing it here.
"""

from __future__ import annotations

from typing import Final

from brixcheck.doctor.checks import engine, gpu, k3s, nodes
from brixcheck.doctor.findings import Check

CHECKS: Final[tuple[Check, ...]] = (
    nodes.node_not_ready,
    nodes.disk_pressure,
    nodes.evicted_pods,
    gpu.gpu_not_advertised,
    gpu.gpu_unschedulable,
    gpu.orphaned_engine,
    engine.cuda_oom_at_start,
    engine.kv_cache_too_small,
    engine.startup_probe_timeout,
    k3s.traefik_holds_port_80,
    k3s.stack_requests_too_large,
)
