from __future__ import annotations

import pytest

from brixcheck.engine.args import ArgsError, parse_engine_args
from brixcheck.engine.metrics import MetricNames


def test_seed_manifest_arguments_parse():
    args = parse_engine_args(["--host", "0.0.0.0", "--port", "8000", "--model",
                              "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
                              "--gpu-memory-utilization", "0.7"])
    assert args.port == 8000
    assert args.gpu_memory_utilization == 0.7
    assert args.served_name == "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"


def test_gpu_only_flags_are_accepted_and_ignored():
    args = parse_engine_args(["m", "--dtype", "bfloat16", "--trust-remote-code",
                              "--served-model-name", "short"])
    assert args.model == "m"
    assert args.served_name == "short"


def test_unknown_flag_is_refused_like_argparse():
    with pytest.raises(ArgsError, match="unrecognized arguments: --no-such-flag"):
        parse_engine_args(["--model", "m", "--no-such-flag"])


def test_out_of_range_utilization_is_refused():
    with pytest.raises(ArgsError, match="gpu-memory-utilization"):
        parse_engine_args(["--model", "m", "--gpu-memory-utilization", "1.5"])


def test_emulator_flags_parse():
    args = parse_engine_args(["--model", "m", "--emu-metric-names", "legacy",
                              "--emu-profile", "h100-80gb", "--emu-slowdown", "1.2"])
    assert args.metric_names is MetricNames.LEGACY
    assert args.profile == "h100-80gb"
    assert args.slowdown == 1.2
