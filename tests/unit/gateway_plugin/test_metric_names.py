"""v0.5.0's engine metric-name mapping (pkg/metrics/metrics.go)."""

from __future__ import annotations

from brixcheck.gateway_plugin.metric_names import engine_of, label_metrics_for, v05_names_for


def test_vllm_names_are_the_v0_ones():
    names = v05_names_for("vllm")
    assert names["vllm:gpu_cache_usage_perc"] == "gpu_cache_usage_perc"
    assert names["vllm:time_to_first_token_seconds"] == "time_to_first_token_seconds"
    assert "vllm:kv_cache_usage_perc" not in names  # the vLLM >= 0.11 name is not read


def test_other_engines_map_their_own_names():
    assert v05_names_for("sglang")["sglang:token_usage"] == "gpu_cache_usage_perc"
    assert v05_names_for("xllm") == {"kv_cache_utilization": "gpu_cache_usage_perc",
                                     "engine_utilization": "engine_utilization"}
    assert v05_names_for("tgi") == {}


def test_engine_label_defaults_to_vllm():
    assert engine_of({}) == engine_of({"model.aibrix.ai/engine": ""}) == "vllm"
    assert engine_of({"model.aibrix.ai/engine": "sglang"}) == "sglang"


def test_lora_info_labels():
    assert label_metrics_for("vllm")["max_lora"] == ("vllm:lora_requests_info", "max_lora")
