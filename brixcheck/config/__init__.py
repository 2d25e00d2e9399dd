"""Typed run options and the one rule that finds the cluster's kubeconfig."""

from brixcheck.config.kubeconfig import (
    FoundKubeconfig,
    KubeconfigSource,
    find_kubeconfig,
    require_kubeconfig,
)
from brixcheck.config.schema import (
    DEFAULT_TWIN_NODES,
    BenchOptions,
    BrixcheckConfig,
    RunOptions,
    StackOptions,
    TargetOptions,
    TwinOptions,
)

__all__ = ["DEFAULT_TWIN_NODES", "BenchOptions", "BrixcheckConfig", "FoundKubeconfig",
           "KubeconfigSource", "RunOptions", "StackOptions", "TargetOptions", "TwinOptions",
           "find_kubeconfig", "require_kubeconfig"]
