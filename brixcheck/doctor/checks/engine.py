"""vLLM start-up checks from container logs: CUDA OOM at start, KV cache too small for
`max_model_len` (seed §4B), startup probe shorter than the model load (seed §4C).

They read the logs of containers that restarted or are not ready, current and `--previous`,
and match vLLM's own wording (vLLM v0.11; the emulator in brixcheck/engine/startup.py writes
the same lines). Findings are grouped per Deployment, whose pod template the remedy patches.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from kubernetes import client

from brixcheck.doctor.checks.gpu import orphaned_processes
from brixcheck.doctor.commands import (
    JsonOp,
    PatchTarget,
    container_index,
    flag_ops,
    flag_value,
    patch_commands,
    target_of,
)
from brixcheck.doctor.facts import GIB, ceil_div, events_of, owner_deployment, plural, pod_ref
from brixcheck.doctor.findings import Finding, FindingId, Observed
from brixcheck.doctor.gpu_facts import GpuProcess

UTILIZATION_FLAG = "--gpu-memory-utilization"
MAX_LEN_FLAG = "--max-model-len"
DEFAULT_UTILIZATION = 0.9
SEED_UTILIZATION = 0.7  # seed §4B
UTILIZATION_MARGIN = 0.02
SEED_STARTUP_BUDGET_S = 300  # seed §4C: failureThreshold 60 x periodSeconds 5
LOAD_MARGIN = 1.5
NVIDIA_SMI = "nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv"

FREE_MEMORY = re.compile(r"Free memory on device \(([\d.]+)/([\d.]+) GiB\) on startup is less "
                         r"than desired GPU memory utilization \(([\d.]+), ([\d.]+) GiB\)")
TORCH_OOM = re.compile(r"torch\.OutOfMemoryError|CUDA out of memory")
MAX_SEQ_LEN = re.compile(r"max seq len \((\d+)\).*?(?:estimated maximum model length is "
                         r"|stored in KV cache \()(\d+)", re.DOTALL)
LOAD_STARTED = re.compile(r"Starting to load model|Loading weights|Loading safetensors|"
                          r"Downloading|Loading model")
STARTED = "Application startup complete"
FAILED = re.compile(r"Traceback|Error: |EngineCore failed to start")
LOAD_TOOK = re.compile(r"Model loading took [\d.]+ GiB and ([\d.]+) seconds")


@dataclass(frozen=True)
class ContainerLogs:
    """A container that restarted or is not ready, with its logs."""

    pod: client.V1Pod
    status: client.V1ContainerStatus
    previous: str
    current: str

    @property
    def text(self) -> str:
        """Previous then current log."""
        return f"{self.previous}\n{self.current}"


def troubled(seen: Observed) -> list[ContainerLogs]:
    """Containers that restarted or are not ready, with their current and previous logs."""
    found = []
    for pod in seen.pods:
        if pod.status.phase not in ("Running", "Pending"):
            continue
        for status in pod.status.container_statuses or []:
            if status.ready and not status.restart_count:
                continue
            ns, name = pod.metadata.namespace, pod.metadata.name
            previous = seen.logs(ns, name, status.name, True) if status.restart_count else ""
            found.append(ContainerLogs(pod, status, previous,
                                       seen.logs(ns, name, status.name, False)))
    return found


Group = tuple[PatchTarget, int, list[ContainerLogs]]


def grouped(seen: Observed, keep: Callable[[ContainerLogs], bool]) -> list[Group]:
    """The kept containers per owner (Deployment, else the bare pod) and container index."""
    groups: dict[tuple[str, str, int], Group] = {}
    members: dict[tuple[str, str, int], list[ContainerLogs]] = defaultdict(list)
    for item in troubled(seen):
        if not keep(item):
            continue
        target = target_of(item.pod, owner_deployment(seen, item.pod))
        index = container_index(target.spec, item.status.name)
        key = (target.namespace, target.name, index)
        members[key].append(item)
        groups[key] = (target, index, members[key])
    return list(groups.values())


def _who(target: PatchTarget) -> str:
    kind = "Deployment" if target.deployment is not None else "Pod"
    return f"{kind} {target.namespace}/{target.name}"


def _restarts(items: list[ContainerLogs]) -> int:
    return sum(i.status.restart_count or 0 for i in items)


def _evidence(items: list[ContainerLogs], line: str) -> tuple[str, ...]:
    return tuple(f"pod/{pod_ref(i.pod)} restarts={i.status.restart_count}: {line}"
                 for i in items)


def suggested_utilization(free_gib: float, total_gib: float) -> float | None:
    """The seed's 0.7, or less where less is free; None when almost nothing is free."""
    fits = math.floor((free_gib / total_gib - UTILIZATION_MARGIN) * 20) / 20
    suggestion = min(SEED_UTILIZATION, fits)
    return round(suggestion, 2) if suggestion >= 0.1 else None


def _orphans_near(seen: Observed, pod: client.V1Pod) -> list[GpuProcess]:
    """Orphaned GPU processes on the pod's node (or anywhere, when the node is unknown)."""
    node = pod.spec.node_name
    return [p for p in orphaned_processes(seen) if p.node in (None, node) or node is None]


def _free_gpu_commands(orphans: list[GpuProcess]) -> list[str]:
    if orphans:
        return [NVIDIA_SMI, *(f"sudo kill {p.pid}   # {p.name}: belongs to no running pod"
                              for p in orphans)]
    return [NVIDIA_SMI, "# then, for each VLLM::EngineCore listed there that no running pod "
                        "owns: sudo kill PID"]


def _oom_finding(seen: Observed, group: Group) -> Finding:
    target, index, items = group
    match = FREE_MEMORY.search(items[0].text)
    assert match is not None
    free, total, wanted, wanted_gib = (float(g) for g in match.groups())
    orphans = _orphans_near(seen, items[0].pod)
    held = sum((p.used_bytes or 0) for p in orphans) / GIB
    suggestion = suggested_utilization(free + held, total)
    holders = (f"dead engine process {', '.join(str(p.pid) for p in orphans)} holds "
               f"{held:.1f} GiB of it" if orphans else "other processes hold the rest")
    cause = (f"vLLM in {_who(target)} asks for {wanted} x {total} GiB = {wanted_gib} GiB of GPU "
             f"memory at start but only {free} GiB is free ({holders}), so the engine exits "
             f"before loading and the pod restarts ({plural(_restarts(items), 'restart')}).")
    # Freeing what dead engines hold comes first: the utilization is sized for after it.
    remedy = _free_gpu_commands(orphans) if orphans else []
    if suggestion is not None and suggestion < wanted:
        remedy += patch_commands(target, flag_ops(target, index, UTILIZATION_FLAG,
                                                  str(suggestion)),
                                 f"set {UTILIZATION_FLAG} {suggestion}")
    elif suggestion is None:
        cause = cause[:-1] + "; almost nothing is free, so free the GPU first."
    if not orphans:
        remedy += _free_gpu_commands(orphans)
    return Finding(FindingId.CUDA_OOM_AT_START, cause, tuple(remedy),
                   _evidence(items, match.group(0)[:80] + "..."))


def _torch_oom_finding(seen: Observed, group: Group) -> Finding:
    target, index, items = group
    current = float(flag_value(target.spec.containers[index], UTILIZATION_FLAG)
                    or DEFAULT_UTILIZATION)
    suggestion = round(min(SEED_UTILIZATION, current - 0.1), 2)
    cause = (f"vLLM in {_who(target)} ran out of GPU memory while starting "
             f"(torch.OutOfMemoryError) at {UTILIZATION_FLAG} {current}: what it reserves "
             "leaves too little for the rest of start-up.")
    remedy = patch_commands(target, flag_ops(target, index, UTILIZATION_FLAG, str(suggestion)),
                            f"set {UTILIZATION_FLAG} {suggestion}")
    return Finding(FindingId.CUDA_OOM_AT_START, cause,
                   (*remedy, *_free_gpu_commands(_orphans_near(seen, items[0].pod))),
                   _evidence(items, "torch.OutOfMemoryError: CUDA out of memory"))


def cuda_oom_at_start(seen: Observed) -> list[Finding]:
    """vLLM refused to start for lack of free GPU memory (seed §4B)."""
    findings = [_oom_finding(seen, g)
                for g in grouped(seen, lambda i: bool(FREE_MEMORY.search(i.text)))]
    findings += [_torch_oom_finding(seen, g) for g in grouped(
        seen, lambda i: not FREE_MEMORY.search(i.text) and bool(TORCH_OOM.search(i.text)))]
    return findings


def suggested_max_len(estimate: int) -> int | None:
    """The largest power of two not above vLLM's estimate (room for >= 1 full request)."""
    return 2 ** int(math.log2(estimate)) if estimate >= 2 else None


def _kv_finding(group: Group) -> Finding:
    target, index, items = group
    match = MAX_SEQ_LEN.search(items[0].text)
    assert match is not None
    wanted, estimate = int(match.group(1)), int(match.group(2))
    suggestion = suggested_max_len(estimate)
    cause = (f"vLLM in {_who(target)} needs KV cache for one request of max_model_len "
             f"{wanted:,} tokens but the memory left after the weights holds about "
             f"{estimate:,}, so it exits after loading "
             f"({plural(_restarts(items), 'restart')}).")
    remedy: tuple[str, ...] = ()
    if suggestion is not None:
        remedy = tuple(patch_commands(target, flag_ops(target, index, MAX_LEN_FLAG,
                                                       str(suggestion)),
                                      f"set {MAX_LEN_FLAG} {suggestion}"))
    return Finding(FindingId.KV_CACHE_TOO_SMALL, cause, remedy,
                   _evidence(items, f"max seq len ({wanted}) > KV cache estimate {estimate}"))


def kv_cache_too_small(seen: Observed) -> list[Finding]:
    """vLLM's KV cache cannot hold one max-length request: set --max-model-len."""
    return [_kv_finding(g) for g in grouped(seen, lambda i: bool(MAX_SEQ_LEN.search(i.text)))]


def _killed_by(seen: Observed, pod: client.V1Pod) -> str | None:
    """'startup' or 'liveness' when the kubelet killed the container for that probe."""
    for event in reversed(events_of(seen, pod)):
        message = (event.message or "").lower()
        for kind in ("startup", "liveness"):
            if event.reason == "Killing" and f"failed {kind} probe" in message:
                return kind
    return None


def _killed_while_loading(seen: Observed, item: ContainerLogs) -> bool:
    """Restarted by a probe while its log shows a model load that never finished or failed."""
    killed = item.previous or item.current
    return (bool(item.status.restart_count) and _killed_by(seen, item.pod) is not None
            and bool(LOAD_STARTED.search(killed)) and STARTED not in killed
            and not FAILED.search(killed))


def load_seconds(text: str, time_scale: float) -> float | None:
    """The model load time a log reports, in pod-spec seconds (None when not reported)."""
    took = [float(s) for s in LOAD_TOOK.findall(text)]
    return max(took) / time_scale if took else None


def _budget(probe: client.V1Probe) -> tuple[int, int, int]:
    """(initialDelaySeconds, periodSeconds, failureThreshold) with Kubernetes' defaults."""
    return (probe.initial_delay_seconds or 0, probe.period_seconds or 10,
            probe.failure_threshold or 3)


def _new_threshold(load_s: float | None, delay: int, period: int, threshold: int) -> int:
    needed = load_s * LOAD_MARGIN if load_s is not None else SEED_STARTUP_BUDGET_S
    computed = ceil_div(needed - delay, period)
    return computed if computed > threshold else threshold * 2


def _probe_ops(target: PatchTarget, index: int, kind: str, threshold: int) -> list[JsonOp]:
    base = f"{target.prefix}/containers/{index}"
    container = target.spec.containers[index]
    if kind == "startup":
        return [{"op": "add", "path": f"{base}/startupProbe/failureThreshold",
                 "value": threshold}]
    handler = client.ApiClient().sanitize_for_serialization(container.liveness_probe)
    probe = {k: v for k, v in handler.items() if k in ("httpGet", "tcpSocket", "exec", "grpc")}
    return [{"op": "add", "path": f"{base}/startupProbe",
             "value": {**probe, "periodSeconds": 5, "failureThreshold": threshold}}]


def _startup_finding(seen: Observed, group: Group) -> Finding:
    target, index, items = group
    container = target.spec.containers[index]
    kind = _killed_by(seen, items[0].pod) or "startup"
    probe = container.startup_probe if kind == "startup" else container.liveness_probe
    delay, period, threshold = _budget(probe or client.V1Probe())
    if kind == "liveness":
        delay, period = 0, 5
    load_s = load_seconds("\n".join(i.text for i in items), seen.time_scale)
    new = _new_threshold(load_s, delay, period, threshold)
    known = (f"the log says loading took {load_s:.0f} s" if load_s is not None else
             "each killed attempt's log ends while the model is still loading")
    cause = (f"The {kind} probe of {_who(target)} gives the model {delay + period * threshold} s "
             f"(failureThreshold {threshold} x periodSeconds {period}) but {known}, so the "
             f"kubelet kills and restarts the container before vLLM is up "
             f"({plural(_restarts(items), 'restart')}).")
    what = f"set startupProbe failureThreshold {new} (periodSeconds {period})"
    remedy = patch_commands(target, _probe_ops(target, index, kind, new), what)
    return Finding(FindingId.STARTUP_PROBE_TIMEOUT, cause,
                   (*remedy, f"# {new} x {period} s = {delay + new * period} s covers "
                             + (f"{LOAD_MARGIN} x the load time" if load_s is not None
                                else "about 3 minutes of model load (seed §4C)")),
                   _evidence(items, f"Killing: container failed {kind} probe while loading"))


def startup_probe_timeout(seen: Observed) -> list[Finding]:
    """The startup (or liveness) probe kills the container while the model still loads."""
    return [_startup_finding(seen, g)
            for g in grouped(seen, lambda i: _killed_while_loading(seen, i))]
