"""Doctor's vLLM start-up checks against fake pods whose logs carry the emulator's wording."""

from __future__ import annotations

import json
import shlex

import pytest

from brixcheck.doctor import FindingId
from brixcheck.doctor.checks.engine import (
    cuda_oom_at_start,
    kv_cache_too_small,
    startup_probe_timeout,
    suggested_max_len,
    suggested_utilization,
)
from brixcheck.doctor.gpu_facts import GpuFacts, GpuProcess
from brixcheck.engine.args import parse_engine_args
from brixcheck.engine.profiles import GIB, get_profile
from brixcheck.engine.startup import StartupError, check_free_memory, check_kv_capacity
from tests.unit.doctor import fakes

RTX = get_profile("rtx4060-8gb")
LOADING = ("INFO 11-27 22:53:04 [gpu_model_runner.py:2602] Starting to load model "
           "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B...\n")


def _startup_error(*args: str, max_len: int | None = None) -> str:
    """vLLM's refusal as the emulator words it (the oracle for doctor's patterns)."""
    engine = parse_engine_args(["--model", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", *args])

    def start() -> None:
        check_free_memory(RTX, engine)
        if max_len is not None:
            check_kv_capacity(RTX, engine, max_len)

    with pytest.raises(StartupError) as info:
        start()
    return str(info.value)


def _patch_ops(command: str) -> list[dict]:
    return json.loads(shlex.split(command)[-1])


def _crashing(log: str, previous: bool = True, **model_args):
    dep, rs, pod = fakes.model(**model_args)
    return dep, rs, pod, {(pod.metadata.name, previous): log}


def test_cuda_oom_suggests_the_seeds_0_7_on_the_deployments_arg():
    dep, rs, pod, logs = _crashing(_startup_error("--gpu-memory-utilization", "0.9"))
    [finding] = cuda_oom_at_start(fakes.observed([fakes.node()], [pod], deployments=[dep],
                                                 replica_sets=[rs], logs=logs))
    assert finding.id == FindingId.CUDA_OOM_AT_START
    assert "0.9 x 8.0 GiB = 7.2 GiB" in finding.cause
    assert "only 7.0 GiB is free" in finding.cause
    ops = _patch_ops(finding.remedy[0])
    assert {"op": "replace", "path": "/spec/template/spec/containers/0/args/9",
            "value": "0.7"} in ops


def test_cuda_oom_switches_a_gpu_rolling_deployment_to_recreate():
    dep, rs, pod, logs = _crashing(_startup_error("--gpu-memory-utilization", "0.9"))
    [finding] = cuda_oom_at_start(fakes.observed([fakes.node()], [pod], deployments=[dep],
                                                 replica_sets=[rs], logs=logs))
    assert _patch_ops(finding.remedy[0])[0] == {"op": "replace", "path": "/spec/strategy",
                                                "value": {"type": "Recreate"}}


def test_cuda_oom_found_in_the_current_log_too():
    dep, rs, pod, logs = _crashing(_startup_error("--gpu-memory-utilization", "0.9"),
                                   previous=False)
    assert cuda_oom_at_start(fakes.observed([fakes.node()], [pod], deployments=[dep],
                                            replica_sets=[rs], logs=logs))


def test_cuda_oom_behind_an_orphaned_engine_kills_it_first_then_sizes_for_after():
    log = _startup_error("--gpu-memory-utilization", "0.7", "--emu-gpu-used-gib", "6.6")
    dep, rs, pod, logs = _crashing(log)
    orphan = GpuProcess("k3s-gpu-0", "GPU 0", 4242, "VLLM::EngineCore", int(5.6 * GIB),
                        fakes.uid())
    seen = fakes.observed([fakes.node()], [pod], deployments=[dep], replica_sets=[rs],
                          logs=logs, gpu=GpuFacts("test", processes=(orphan,)))
    [finding] = cuda_oom_at_start(seen)
    assert "dead engine process 4242 holds 5.6 GiB" in finding.cause
    assert finding.remedy[1].startswith("sudo kill 4242")
    # 1.4 GiB free + 5.6 GiB freed: 0.7 fits again, which the pod already asks for.
    assert not any("patch" in c for c in finding.remedy)


def test_suggested_utilization_is_lower_when_less_is_free():
    assert suggested_utilization(7.0, 8.0) == 0.7
    assert suggested_utilization(4.0, 8.0) == 0.45
    assert suggested_utilization(0.5, 8.0) is None


def test_torch_oom_lowers_the_current_utilization():
    log = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB."
    dep, rs, pod, logs = _crashing(log)
    [finding] = cuda_oom_at_start(fakes.observed([fakes.node()], [pod], deployments=[dep],
                                                 replica_sets=[rs], logs=logs))
    assert _patch_ops(finding.remedy[0])[-1]["value"] == "0.7"


def test_kv_cache_adds_max_model_len_below_vllms_estimate():
    log = _startup_error("--gpu-memory-utilization", "0.7", max_len=131072)
    dep, rs, pod, logs = _crashing(log)
    [finding] = kv_cache_too_small(fakes.observed([fakes.node()], [pod], deployments=[dep],
                                                  replica_sets=[rs], logs=logs))
    assert finding.id == FindingId.KV_CACHE_TOO_SMALL
    assert "131,072" in finding.cause
    ops = _patch_ops(finding.remedy[0])
    assert ops[-2:] == [
        {"op": "add", "path": "/spec/template/spec/containers/0/args/-",
         "value": "--max-model-len"},
        {"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "32768"}]


def test_kv_cache_replaces_an_existing_max_model_len_value():
    log = _startup_error("--gpu-memory-utilization", "0.7", max_len=131072)
    args = [*fakes.SEED_ARGS, "--max-model-len=131072"]
    dep, rs, pod, logs = _crashing(log, spec_container=fakes.container(args=args))
    [finding] = kv_cache_too_small(fakes.observed([fakes.node()], [pod], deployments=[dep],
                                                  replica_sets=[rs], logs=logs))
    assert _patch_ops(finding.remedy[0])[-1] == {
        "op": "replace", "path": "/spec/template/spec/containers/0/args/10",
        "value": "--max-model-len=32768"}


def test_kv_cache_reads_older_vllm_wording():
    log = ("ValueError: The model's max seq len (131072) is larger than the maximum number of "
           "tokens that can be stored in KV cache (63264).")
    dep, rs, pod, logs = _crashing(log)
    [finding] = kv_cache_too_small(fakes.observed([fakes.node()], [pod], deployments=[dep],
                                                  replica_sets=[rs], logs=logs))
    assert "63,264" in finding.cause


def test_suggested_max_len_is_a_power_of_two():
    assert suggested_max_len(63168) == 32768
    assert suggested_max_len(8192) == 8192


def _killed_by_probe(log: str, kind: str = "startup", container=None, time_scale=1.0):
    container = container or fakes.container(startup=fakes.probe(5, 12))
    dep, rs, pod = fakes.model(spec_container=container, restarts=2)
    events = [fakes.event(pod, "Unhealthy", f"{kind.title()} probe failed: connection refused"),
              fakes.event(pod, "Killing", f"Container vllm-openai failed {kind} probe, will be "
                                          "restarted", 1)]
    return fakes.observed([fakes.node()], [pod], events, deployments=[dep], replica_sets=[rs],
                          logs={(pod.metadata.name, True): log}, time_scale=time_scale)


def test_startup_timeout_raises_failure_threshold_to_the_seeds_60():
    [finding] = startup_probe_timeout(_killed_by_probe(LOADING))
    assert finding.id == FindingId.STARTUP_PROBE_TIMEOUT
    assert "60 s (failureThreshold 12 x periodSeconds 5)" in finding.cause
    assert _patch_ops(finding.remedy[0])[-1] == {
        "op": "add", "path": "/spec/template/spec/containers/0/startupProbe/failureThreshold",
        "value": 60}


def test_startup_timeout_threshold_from_the_logged_load_time_in_spec_seconds():
    log = LOADING + ("INFO [gpu_model_runner.py:2653] Model loading took 3.3101 GiB and "
                     "40.000000 seconds\n") + LOADING
    # On the twin (time scale 0.1) 40 s of log time is 400 s of pod-spec time.
    [finding] = startup_probe_timeout(_killed_by_probe(log, time_scale=0.1))
    assert _patch_ops(finding.remedy[0])[-1]["value"] == 120  # 1.5 x 400 s / 5 s
    assert "loading took 400 s" in finding.cause


def test_startup_timeout_not_reported_when_the_engine_failed():
    log = LOADING + "ValueError: Free memory on device (7.0/8.0 GiB) ...\n"
    assert startup_probe_timeout(_killed_by_probe(log)) == []


def test_startup_timeout_not_reported_without_a_probe_kill():
    dep, rs, pod = fakes.model(spec_container=fakes.container(startup=fakes.probe()))
    seen = fakes.observed([fakes.node()], [pod], deployments=[dep], replica_sets=[rs],
                          logs={(pod.metadata.name, True): LOADING})
    assert startup_probe_timeout(seen) == []


def test_liveness_kill_while_loading_adds_a_startup_probe():
    container = fakes.container(liveness=fakes.probe(10, 3))
    [finding] = startup_probe_timeout(_killed_by_probe(LOADING, "liveness", container))
    op = _patch_ops(finding.remedy[0])[-1]
    assert op["path"] == "/spec/template/spec/containers/0/startupProbe"
    assert op["value"]["httpGet"]["path"] == "/health"
    assert op["value"]["failureThreshold"] == 60


def test_bare_pod_remedy_saves_edits_and_replaces_it():
    pod = fakes.pod("bare", restarts=1, ready=False)
    seen = fakes.observed([fakes.node()], [pod],
                          logs={("bare", True): _startup_error("--gpu-memory-utilization",
                                                               "0.9")})
    [finding] = cuda_oom_at_start(seen)
    assert finding.remedy[0] == "kubectl -n default get pod bare -o yaml > bare.yaml"
    assert finding.remedy[2] == "kubectl replace --force -f bare.yaml"
