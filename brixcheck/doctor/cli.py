"""Entry point of `brixcheck doctor`: find the cluster, read it, print the findings."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from brixcheck import gpu
from brixcheck.doctor import run_checks
from brixcheck.doctor.gpu_facts import from_host, from_twin
from brixcheck.doctor.model import Observed
from brixcheck.doctor.read import observe
from brixcheck.doctor.render import as_json, report_lines
from brixcheck.errors import BrixcheckError
from brixcheck.target import connect

K3S_KUBECONFIG = Path("/etc/rancher/k3s/k3s.yaml")
USER_KUBECONFIG = Path("~/.kube/config").expanduser()


def _twin_kubeconfig() -> Path:
    from brixcheck.twin.cluster import TwinLayout

    return TwinLayout.default().kubeconfig


def find_kubeconfig(option: str | None) -> Path:
    """--kubeconfig, else $KUBECONFIG, else the twin's, K3s's or ~/.kube/config if present."""
    if option:
        return Path(option).expanduser()
    if os.environ.get("KUBECONFIG"):
        return Path(os.environ["KUBECONFIG"].split(os.pathsep)[0]).expanduser()
    for candidate in (_twin_kubeconfig(), K3S_KUBECONFIG, USER_KUBECONFIG):
        if candidate.exists():
            return candidate
    raise BrixcheckError("no kubeconfig given and none found ($KUBECONFIG, the twin's, "
                         f"{K3S_KUBECONFIG}, {USER_KUBECONFIG})",
                         "pass --kubeconfig PATH, or start the twin with `brixcheck twin up`")


def _with_gpu(seen: Observed, twin: bool) -> tuple[Observed, list[str]]:
    if twin:
        return dataclasses.replace(seen, gpu=from_twin(seen.nodes)), []
    try:
        return dataclasses.replace(seen, gpu=from_host()), []
    except gpu.GpuUnavailableError as exc:
        return seen, [f"GPU processes not checked: {exc.reason} (run doctor on the GPU node)"]
    except gpu.GpuError as exc:
        return seen, [f"GPU processes not checked: {exc}"]


def main_doctor(kubeconfig: str | None, json_output: bool = False) -> int:
    """Run `brixcheck doctor`; 0 when all clear, 1 when something was found."""
    path = find_kubeconfig(kubeconfig)
    twin = path.resolve() == _twin_kubeconfig().resolve()
    scale = 1.0
    if twin:
        from brixcheck.twin.lifecycle import time_factor

        scale = time_factor()
    target = connect(path, "twin" if twin else "cluster", time_scale=scale)
    seen, notes = _with_gpu(observe(target.api_client, time_scale=scale), twin)
    findings = run_checks(seen)
    if json_output:
        print(json.dumps(as_json(findings, seen, notes), indent=2))
    else:
        print("\n".join(report_lines(findings, seen, notes)))
    return 1 if findings else 0
