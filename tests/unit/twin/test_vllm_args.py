"""A pod's vLLM arguments translated for the real CPU engine."""

from __future__ import annotations

from pathlib import Path

from brixcheck.twin.vllm_args import translate

TINY = Path("/m")


def test_model_replaced_served_name_kept_gpu_flags_dropped():
    out = translate(["--host", "0.0.0.0", "--port", "8000", "--model", "org/big",
                     "--served-model-name", "big", "--gpu-memory-utilization", "0.7",
                     "--max-model-len", "8192", "--enforce-eager"], TINY, "127.0.1.1")
    assert out.argv == ["--model", "/m", "--port", "8000", "--served-model-name", "big",
                        "--max-model-len", "8192", "--enforce-eager", "--host", "127.0.1.1"]
    assert [flag for flag, _ in out.dropped] == ["--host 0.0.0.0",
                                                 "--gpu-memory-utilization 0.7"]


def test_without_served_name_the_pod_model_name_is_served():
    out = translate(["org/big", "--dtype=half"], TINY, "127.0.1.2", ("--x",))
    assert out.argv == ["--model", "/m", "--served-model-name", "org/big",
                        "--host", "127.0.1.2", "--x"]
    assert out.dropped[0][0] == "--dtype half"


def test_unknown_flags_pass_through_so_vllm_can_refuse_them():
    out = translate(["--model", "m", "--no-such-flag", "1"], TINY, "127.0.1.3")
    assert "--no-such-flag" in out.argv
