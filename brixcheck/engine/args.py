"""The vLLM OpenAI server's command line, as far as the emulator needs it.

A model pod's container arguments are passed here unchanged, so the flags that shape serving
(`--model`, `--port`, `--gpu-memory-utilization`, `--max-model-len`, `--max-num-seqs`, ...) are
honoured, flags that only matter on a real GPU are accepted and ignored, and anything else is
refused the way vLLM's argparse refuses it. Emulator-only settings start with `--emu-`.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from brixcheck.engine.kv_connector import KvConfigError, KvTransferConfig, parse_kv_transfer_config
from brixcheck.engine.metrics import MetricNames
from brixcheck.engine.profiles import PROFILES

# vLLM flags that take a value and change nothing the emulator models.
_IGNORED_WITH_VALUE = (
    "--dtype", "--tensor-parallel-size", "--pipeline-parallel-size", "--kv-cache-dtype",
    "--swap-space", "--download-dir", "--tokenizer", "--max-log-len", "--uvicorn-log-level",
    "--quantization", "--revision", "--load-format", "--chat-template", "--cpu-offload-gb",
    "--distributed-executor-backend", "--compilation-config", "--reasoning-parser",
    "--tool-call-parser", "--data-parallel-size", "--max-loras", "--max-lora-rank",
)
_IGNORED_SWITCHES = (
    "--trust-remote-code", "--enforce-eager", "--disable-log-requests", "--disable-log-stats",
    "--enable-chunked-prefill", "--disable-frontend-multiprocessing", "--enable-lora",
    "--enable-auto-tool-choice", "--enable-log-requests",
)


class ArgsError(ValueError):
    """Bad engine arguments; the message reads like vLLM's argparse error."""


@dataclass(frozen=True)
class EngineArgs:
    """Everything one emulated engine is started with."""

    model: str
    served_model_names: tuple[str, ...]
    host: str
    port: int
    gpu_memory_utilization: float
    max_model_len: int | None
    max_num_seqs: int | None
    max_num_batched_tokens: int | None
    block_size: int
    seed: int
    api_key: str | None
    enable_prefix_caching: bool
    enable_prompt_tokens_details: bool
    profile: str
    metric_names: MetricNames
    load_time_s: float | None
    load_time_factor: float
    gpu_used_gib: float | None
    slowdown: float
    error_rate: float
    listen_while_loading: bool
    kv_transfer: KvTransferConfig | None = None

    @property
    def served_name(self) -> str:
        """The name requests must use (first served name, else the model path)."""
        return self.served_model_names[0] if self.served_model_names else self.model


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ArgsError(f"api_server.py: error: {message}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="api_server.py", add_help=False, allow_abbrev=False)
    p.add_argument("model_tag", nargs="?", default=None)
    p.add_argument("--model", default=None)
    p.add_argument("--served-model-name", nargs="+", default=[])
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    p.add_argument("--max-model-len", type=int, default=None)
    p.add_argument("--max-num-seqs", type=int, default=None)
    p.add_argument("--max-num-batched-tokens", type=int, default=None)
    p.add_argument("--block-size", type=int, default=16, choices=[8, 16, 32, 64, 128])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--api-key", default=None)
    p.add_argument("--enable-prefix-caching", action=argparse.BooleanOptionalAction,
                   default=True)
    p.add_argument("--enable-prompt-tokens-details", action="store_true")
    p.add_argument("--show-hidden-metrics-for-version", default=None)
    p.add_argument("--kv-transfer-config", default=None)
    p.add_argument("--emu-profile", default="rtx4060-8gb", choices=sorted(PROFILES))
    p.add_argument("--emu-metric-names", default="modern", choices=[m.value for m in MetricNames])
    p.add_argument("--emu-load-time-s", type=float, default=None)
    p.add_argument("--emu-load-time-factor", type=float, default=1.0)
    p.add_argument("--emu-gpu-used-gib", type=float, default=None)
    p.add_argument("--emu-slowdown", type=float, default=1.0)
    p.add_argument("--emu-error-rate", type=float, default=0.0)
    p.add_argument("--emu-listen-while-loading", action=argparse.BooleanOptionalAction,
                   default=True)
    for flag in _IGNORED_WITH_VALUE:
        p.add_argument(flag, default=None)
    for flag in _IGNORED_SWITCHES:
        p.add_argument(flag, action="store_true")
    return p


def parse_engine_args(argv: Sequence[str]) -> EngineArgs:
    """Parse vLLM-style arguments; raise ArgsError with one clear line when they are bad."""
    ns = _parser().parse_args(list(argv))
    model = ns.model or ns.model_tag
    if not model:
        raise ArgsError("api_server.py: error: --model is required by the emulator "
                        "(the model id decides nothing but names; pass the pod's --model)")
    if not 0 <= ns.port <= 65535:
        raise ArgsError(f"api_server.py: error: --port must be in 0-65535, got {ns.port}")
    if not 0.0 < ns.gpu_memory_utilization <= 1.0:
        raise ArgsError("api_server.py: error: --gpu-memory-utilization must be in (0, 1], "
                        f"got {ns.gpu_memory_utilization}")
    if not 0.0 <= ns.emu_error_rate <= 1.0 or ns.emu_slowdown <= 0:
        raise ArgsError("api_server.py: error: --emu-error-rate must be in [0, 1] and "
                        "--emu-slowdown above 0")
    return EngineArgs(
        model=model,
        served_model_names=tuple(ns.served_model_name),
        host=ns.host,
        port=ns.port,
        gpu_memory_utilization=ns.gpu_memory_utilization,
        max_model_len=ns.max_model_len,
        max_num_seqs=ns.max_num_seqs,
        max_num_batched_tokens=ns.max_num_batched_tokens,
        block_size=ns.block_size,
        seed=ns.seed,
        api_key=ns.api_key,
        enable_prefix_caching=ns.enable_prefix_caching,
        enable_prompt_tokens_details=ns.enable_prompt_tokens_details,
        profile=ns.emu_profile,
        metric_names=MetricNames(ns.emu_metric_names),
        load_time_s=ns.emu_load_time_s,
        load_time_factor=ns.emu_load_time_factor,
        gpu_used_gib=ns.emu_gpu_used_gib,
        slowdown=ns.emu_slowdown,
        error_rate=ns.emu_error_rate,
        listen_while_loading=ns.emu_listen_while_loading,
        kv_transfer=_kv_transfer(ns.kv_transfer_config),
    )


def _kv_transfer(text: str | None) -> KvTransferConfig | None:
    if text is None:
        return None
    try:
        return parse_kv_transfer_config(text)
    except KvConfigError as exc:
        raise ArgsError(f"api_server.py: error: {exc}") from None


def flags_help() -> str:
    """The flags `engine run` accepts, grouped, for its --help."""
    honoured, emulator = [], []
    for action in _parser()._actions:
        flag = next(iter(action.option_strings), None)
        if flag is None or flag in _IGNORED_WITH_VALUE or flag in _IGNORED_SWITCHES:
            continue
        (emulator if flag.startswith("--emu-") else honoured).append(flag)
    return "\n".join(textwrap.fill(paragraph, width=79, subsequent_indent="  ",
                                          break_on_hyphens=False) for paragraph in [
        "vLLM flags honoured: " + ", ".join(honoured),
        "vLLM flags accepted and ignored (they matter on a real GPU only): "
        + ", ".join(_IGNORED_WITH_VALUE + _IGNORED_SWITCHES),
        "emulator flags: " + ", ".join(emulator) + f" (profiles: {', '.join(sorted(PROFILES))})",
        "any other flag is refused, as vLLM refuses it",
    ])
