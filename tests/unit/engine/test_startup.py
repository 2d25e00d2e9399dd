"""vLLM's start-up refusals on the seed's RTX 4060 with DeepSeek-R1-Distill-Qwen-1.5B."""

from __future__ import annotations

import pytest

from brixcheck.engine.args import parse_engine_args
from brixcheck.engine.profiles import get_profile
from brixcheck.engine.startup import StartupError, check_free_memory, check_kv_capacity

RTX = get_profile("rtx4060-8gb")


def _args(*extra: str):
    return parse_engine_args(["--model", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", *extra])


def test_utilization_0_9_fails_when_the_desktop_holds_1_gib():
    with pytest.raises(StartupError) as info:
        check_free_memory(RTX, _args("--gpu-memory-utilization", "0.9"))
    message = str(info.value)
    assert message.startswith("ValueError: Free memory on device (7.0/8.0 GiB) on startup")
    assert "(0.9, 7.2 GiB)" in message
    assert "Decrease GPU memory utilization" in message


def test_utilization_0_7_starts_beside_the_desktop():
    check_free_memory(RTX, _args("--gpu-memory-utilization", "0.7"))


def test_default_max_model_len_does_not_fit_the_kv_cache_of_an_8_gb_card():
    args = _args("--gpu-memory-utilization", "0.7")
    with pytest.raises(StartupError) as info:
        check_kv_capacity(RTX, args, RTX.model.max_model_len)
    assert "max seq len (131072)" in str(info.value)
    assert "estimated maximum model length is" in str(info.value)


def test_a_smaller_max_model_len_fits():
    plan = check_kv_capacity(RTX, _args("--gpu-memory-utilization", "0.7"), 8192)
    assert plan.kv_cache_tokens >= 8192
    assert plan.num_blocks * 16 == plan.kv_cache_tokens
