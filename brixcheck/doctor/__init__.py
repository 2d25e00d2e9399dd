"""`brixcheck doctor`: find the seed's troubleshooting cases on a cluster and say what to do.

`diagnose` reads what a user's cluster and host show (node conditions and taints, events, pod
status and restart counts, container logs, and GPU processes from NVML or the twin's virtual
GPUs) and returns one `Finding` per problem: the cause in one sentence and the remedy as exact
commands. It never changes the cluster: it only gets, lists and reads logs. The conformance
cases use the same findings for their failure messages.
"""

from __future__ import annotations

from kubernetes import client

from brixcheck.doctor.checks import CHECKS
from brixcheck.doctor.findings import Finding, FindingId, Observed
from brixcheck.doctor.gpu_facts import GpuFacts
from brixcheck.doctor.read import observe

__all__ = ["CHECKS", "Finding", "FindingId", "Observed", "diagnose", "run_checks"]


def run_checks(seen: Observed) -> list[Finding]:
    """Run every registered check on one snapshot, in registry order."""
    return [finding for check in CHECKS for finding in check(seen)]


def diagnose(api_client: client.ApiClient, gpu_facts: GpuFacts | None = None,
             time_scale: float = 1.0) -> list[Finding]:
    """Read the cluster once and return every problem found (empty: all clear).

    Args:
        api_client: a connected client of the cluster.
        gpu_facts: what holds GPU memory on the host (`gpu_facts.from_host`) or the twin
            (`gpu_facts.from_twin`); None skips the GPU-process checks.
        time_scale: the cluster's seconds per pod-spec second; the twin's time factor there.

    Returns:
        The findings, in the order of `CHECKS`.
    """
    return run_checks(observe(api_client, gpu_facts, time_scale))
