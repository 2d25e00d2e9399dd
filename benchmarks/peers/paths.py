"""Where the peer tools, the tokenizer and the reports live."""

from __future__ import annotations

import os
from pathlib import Path

CACHE = Path(os.environ.get("BRIXCHECK_PEERS_CACHE", Path.home() / ".cache/brixcheck/peers"))
TOKENIZER_ROOT = CACHE / "tokenizer"
MODEL = "deepseek-r1-qwen-1b5"
REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "reports"
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "DO_NOT_TRACK": "1", "TOKENIZERS_PARALLELISM": "false"}


def venv_dir(tool: str) -> Path:
    """The tool's own virtual environment (never the project's)."""
    return CACHE / tool / "venv"


def tool_bin(tool: str, name: str) -> Path:
    """An executable inside the tool's venv."""
    return venv_dir(tool) / "bin" / name


def tokenizer_dir(model: str = MODEL) -> Path:
    """Local tokenizer folder whose name equals the served model name."""
    return TOKENIZER_ROOT / model


def offline_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The process environment with every hub switched off (and no proxies for loopback)."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(OFFLINE_ENV)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.0/8,localhost"
    env["HF_HOME"] = str(CACHE / "hf-home")
    env.update(extra or {})
    return env
