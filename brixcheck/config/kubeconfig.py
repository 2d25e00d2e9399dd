"""Which kubeconfig a run uses: one order for the suites and every command (docs/conformance.md).

1. `--kubeconfig PATH`;
2. `$KUBECONFIG`, its first entry when it is a path list (kubectl merges the list; the first
   file names the current context in the usual single-cluster case);
3. the running twin's kubeconfig;
4. K3s's `/etc/rancher/k3s/k3s.yaml`;
5. `~/.kube/config`.

Steps 3-5 take a file only when it exists. When none is found, a suite run starts the twin
(brixcheck.fixtures.target) and the commands stop with one sentence. This module only looks at
paths; connecting is brixcheck.cluster.target's job.

`python -m brixcheck.config` exits 0 when a suite run without --kubeconfig would use
the twin, 1 when the order finds a cluster's kubeconfig first (the Makefile asks it before
installing AIBrix for the run, which it does on the twin only).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from brixcheck.errors import BrixcheckError

K3S_KUBECONFIG = Path("/etc/rancher/k3s/k3s.yaml")
USER_KUBECONFIG = Path("~/.kube/config")


class KubeconfigSource(StrEnum):
    """Where the kubeconfig came from, in the order they are tried."""

    OPTION = "--kubeconfig"
    ENVIRONMENT = "$KUBECONFIG"
    TWIN = "the running twin"
    K3S = "K3s"
    USER = "~/.kube/config"


@dataclass(frozen=True)
class FoundKubeconfig:
    """A kubeconfig path and the step of the order that found it."""

    path: Path
    source: KubeconfigSource


def twin_kubeconfig() -> Path:
    """Where the twin writes its kubeconfig (present while it is up)."""
    from brixcheck.twin.cluster import TwinLayout  # the twin's layout, not its programs

    return TwinLayout.default().kubeconfig


def find_kubeconfig(option: str | Path | None,
                    environ: Mapping[str, str] | None = None) -> FoundKubeconfig | None:
    """The kubeconfig by the documented order; None when no step finds one."""
    if option:
        return FoundKubeconfig(Path(option).expanduser(), KubeconfigSource.OPTION)
    listed = [p for p in (environ if environ is not None else os.environ)
              .get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        return FoundKubeconfig(Path(listed[0]).expanduser(), KubeconfigSource.ENVIRONMENT)
    files = ((KubeconfigSource.TWIN, twin_kubeconfig()), (KubeconfigSource.K3S, K3S_KUBECONFIG),
             (KubeconfigSource.USER, USER_KUBECONFIG.expanduser()))
    return next((FoundKubeconfig(path, source) for source, path in files if path.exists()),
                None)


def require_kubeconfig(option: str | Path | None) -> FoundKubeconfig:
    """find_kubeconfig for the commands, which never start the twin: none found is an error."""
    found = find_kubeconfig(option)
    if found is None:
        raise BrixcheckError("no kubeconfig given and none found ($KUBECONFIG, the twin's, "
                             f"{K3S_KUBECONFIG}, {USER_KUBECONFIG})",
                             "pass --kubeconfig PATH, or start the twin with `brixcheck twin up`")
    return found


def reaches_twin(environ: Mapping[str, str] | None = None) -> bool:
    """True when a suite run without --kubeconfig uses the twin (running, or started)."""
    found = find_kubeconfig(None, environ)
    return found is None or found.source is KubeconfigSource.TWIN
