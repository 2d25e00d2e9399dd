"""The telemetry sampler: which series it keeps, the line format, gaps, and NVML where present."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import httpx
import pynvml
import pytest

from brixcheck.analysis.engine_metrics import kept_samples
from brixcheck.bench import nvml_sampler
from brixcheck.bench.nvml_sampler import NvmlSampler
from brixcheck.bench.telemetry import TelemetrySampler, telemetry_path
from brixcheck.engine.metrics import EngineMetrics, GaugeState, MetricNames

STATE = GaugeState(running=3, waiting=2, kv_usage=0.5, preemptions=0, prefix_queries=400,
                   prefix_hits=100, prompt_tokens=380, generation_tokens=64)


def _exposition(names: MetricNames) -> str:
    metrics = EngineMetrics("m", names, 4096, {"block_size": "16"}, lambda: STATE)
    return metrics.exposition().decode()


def test_keeps_the_emulators_modern_series_without_the_total_suffix():
    kept = {s.metric: s.value for s in kept_samples(_exposition(MetricNames.MODERN), "pod-a")}
    assert kept == {"vllm:num_requests_running": 3, "vllm:num_requests_waiting": 2,
                    "vllm:kv_cache_usage_perc": 0.5, "vllm:num_preemptions": 0,
                    "vllm:prefix_cache_queries": 400, "vllm:prefix_cache_hits": 100,
                    "vllm:prompt_tokens": 380, "vllm:generation_tokens": 64}


def test_keeps_the_legacy_cache_usage_name_too():
    kept = {s.metric for s in kept_samples(_exposition(MetricNames.LEGACY), "pod-a")}
    assert {"vllm:gpu_cache_usage_perc", "vllm:kv_cache_usage_perc"} <= kept


def test_reads_untyped_counters_and_older_prefix_names_with_their_labels():
    text = ('vllm:gpu_prefix_cache_queries_total{engine="1",model_name="m"} 12\n'
            'vllm:gpu_prefix_cache_hits_total{engine="1",model_name="m"} 4\n'
            "vllm:unrelated 1\n")
    kept = kept_samples(text, "p")
    assert [(s.metric, s.labels["engine"], s.value) for s in kept] == [
        ("vllm:gpu_prefix_cache_queries", "1", 12), ("vllm:gpu_prefix_cache_hits", "1", 4)]


def _sampler(tmp_path: Path, pods: dict[str, str]) -> TelemetrySampler:
    return TelemetrySampler(tmp_path / "run-telemetry.jsonl", lambda: pods, gpu=False)


def test_a_round_writes_samples_and_an_unreachable_pod_as_a_gap(tmp_path):
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "10.0.0.2":
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, text=_exposition(MetricNames.MODERN))

    sampler = _sampler(tmp_path, {"up": "http://10.0.0.1:8000", "down": "http://10.0.0.2:8000"})
    sampler.out.parent.mkdir(exist_ok=True)
    with sampler.out.open("w") as sampler._file, \
            httpx.Client(transport=httpx.MockTransport(answer)) as client:
        sampler.sample_round(client)
    lines = [json.loads(x) for x in sampler.out.read_text().splitlines()]
    gaps = [x for x in lines if "gap" in x]
    assert len(gaps) == 1
    assert gaps[0]["instance"] == "down"
    assert "refused" in gaps[0]["gap"]
    running = next(x for x in lines if x.get("metric") == "vllm:num_requests_running")
    assert running["instance"] == "up"
    assert running["value"] == 3
    assert running["labels"] == {"model_name": "m", "engine": "0"}
    assert running["t_s"] > 0
    assert running["wall_s"] > 1.7e9
    assert (sampler.samples, sampler.gaps) == (len(lines), 1)


def test_the_thread_samples_until_stopped_even_with_nothing_listening(tmp_path):
    with _sampler(tmp_path, {"gone": "http://127.0.0.1:9"}) as sampler:
        pass
    assert sampler.gaps == 2  # the first round and the last
    assert json.loads(sampler.out.read_text().splitlines()[0])["instance"] == "gone"


def test_telemetry_sits_beside_the_records_directory(tmp_path):
    records = tmp_path / "s" / "random-r0"
    assert telemetry_path(records) == tmp_path / "s" / "random-r0-telemetry.jsonl"


def test_interval_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="interval_s"):
        TelemetrySampler(tmp_path / "x", dict, interval_s=0)


def test_no_nvml_means_no_gpu_samples(monkeypatch):
    def missing() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(nvml_sampler.pynvml, "nvmlInit", missing)
    with NvmlSampler() as gpus:
        assert not gpus.present
        assert gpus.sample() == []


def test_nvml_figures_per_device_and_missing_ones_left_out(monkeypatch):
    nvml = nvml_sampler.pynvml
    calls: list[str] = []

    def no_power(handle: int) -> int:
        if handle == 1:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return 71500

    for name, fake in {
            "nvmlInit": lambda: calls.append("init"),
            "nvmlShutdown": lambda: calls.append("shutdown"),
            "nvmlDeviceGetCount": lambda: 2, "nvmlDeviceGetHandleByIndex": lambda i: i,
            "nvmlDeviceGetUtilizationRates": lambda h: SimpleNamespace(gpu=40 + h, memory=0),
            "nvmlDeviceGetMemoryInfo": lambda h: SimpleNamespace(used=2**30, total=8 * 2**30),
            "nvmlDeviceGetPowerUsage": no_power}.items():
        monkeypatch.setattr(nvml, name, fake)
    with NvmlSampler() as gpus:
        got = {(s.instance, s.metric): s.value for s in gpus.sample()}
    assert calls == ["init", "shutdown"]
    assert got == {("0", "gpu:utilization_perc"): 40, ("0", "gpu:memory_used_bytes"): 2**30,
                   ("0", "gpu:power_watts"): 71.5, ("1", "gpu:utilization_perc"): 41,
                   ("1", "gpu:memory_used_bytes"): 2**30}
