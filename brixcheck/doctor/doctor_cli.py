"""Entry point of `brixcheck doctor`: find the cluster, read it, print the findings."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from brixcheck import gpu
from brixcheck.cluster.capability import Capability
from brixcheck.cluster.target import connect
from brixcheck.config.kubeconfig import require_kubeconfig
from brixcheck.doctor import run_checks
from brixcheck.doctor.findings import Observed
from brixcheck.doctor.gpu_facts import from_host, from_twin
from brixcheck.doctor.read import observe
from brixcheck.doctor.render import as_json, report_lines


def _with_gpu(seen: Observed, virtual: bool) -> tuple[Observed, list[str]]:
    """GPU figures from the nodes (the twin's virtual GPUs), else from NVML on this host."""
    if virtual:
        return dataclasses.replace(seen, gpu=from_twin(seen.nodes)), []
    try:
        return dataclasses.replace(seen, gpu=from_host()), []
    except gpu.GpuUnavailableError as exc:
        return seen, [f"GPU processes not checked: {exc.reason} (run doctor on the GPU node)"]
    except gpu.GpuError as exc:
        return seen, [f"GPU processes not checked: {exc}"]


def main_doctor(kubeconfig: Path | None, json_output: bool = False) -> int:
    """Run `brixcheck doctor`; 0 when all clear, 1 when something was found."""
    target = connect(require_kubeconfig(kubeconfig).path)
    seen, notes = _with_gpu(observe(target.api_client, time_scale=target.time_scale),
                            virtual=Capability.NVML not in target.capabilities)
    findings = run_checks(seen)
    if json_output:
        print(json.dumps(as_json(findings, seen, notes), indent=2))
    else:
        print("\n".join(report_lines(findings, seen, notes)))
    return 1 if findings else 0
