"""A model pod's vLLM arguments, translated for the real vLLM server on this machine's CPU.

The model (any `--model` or positional one) becomes the twin's tiny random-weight model; the
name clients use stays: `--served-model-name` is kept, or set to the pod's model when the pod
had none (what vLLM itself would serve it as). `--host` becomes the pod IP. Flags that only
mean something on a GPU are dropped, each with its reason, which the backer writes into the
container log. Everything else is passed on unchanged, so a flag vLLM refuses still makes the
container fail as it would on a node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# flag -> why it is dropped on the twin's CPU engine
DROPPED = {
    "--gpu-memory-utilization": "GPU memory share; the CPU engine's KV cache is set by "
                                "--kv-cache-memory-bytes",
    "--tensor-parallel-size": "one CPU process per pod",
    "--pipeline-parallel-size": "one CPU process per pod",
    "--dtype": "the tiny model is bfloat16",
    "--quantization": "the tiny model is not quantized",
    "--kv-cache-dtype": "the CPU KV cache keeps the model dtype",
    "--block-size": "CPU attention needs multiples of 32; vLLM's CPU default is used",
    "--swap-space": "no GPU to swap from",
    "--cpu-offload-gb": "no GPU to offload from",
    "--host": "the server binds the pod IP",
}
SWITCHES = {"--enforce-eager", "--trust-remote-code", "--enable-prefix-caching",
            "--no-enable-prefix-caching", "--enable-prompt-tokens-details",
            "--disable-log-requests", "--disable-log-stats", "--enable-chunked-prefill",
            "--no-enable-chunked-prefill"}


@dataclass
class Translated:
    """The argv for the real server and what was dropped (flag, reason)."""

    argv: list[str]
    dropped: list[tuple[str, str]] = field(default_factory=list)


def _split(argv: list[str]) -> list[tuple[str, str | None]]:
    """(flag, value) pairs; a positional argument is ("", value)."""
    pairs: list[tuple[str, str | None]] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg.startswith("--") and "=" in arg:
            flag, value = arg.split("=", 1)
            pairs.append((flag, value))
        elif arg.startswith("--") and (arg in SWITCHES or index + 1 >= len(argv)
                                       or argv[index + 1].startswith("--")):
            pairs.append((arg, None))
        elif arg.startswith("--"):
            pairs.append((arg, argv[index + 1]))
            index += 1
        else:
            pairs.append(("", arg))
        index += 1
    return pairs


def translate(argv: list[str], model_dir: Path, host: str,
              extra: tuple[str, ...] = ()) -> Translated:
    """The real server's argv for a pod's vLLM arguments (see the module doc)."""
    out = Translated(argv=["--model", str(model_dir)])
    model = served = None
    for flag, value in _split(argv):
        if flag in ("", "--model"):
            model = value
        elif flag == "--served-model-name":
            served = value
            out.argv += [flag, str(value)]
        elif flag in DROPPED:
            out.dropped.append((flag if value is None else f"{flag} {value}", DROPPED[flag]))
        else:
            out.argv += [flag] if value is None else [flag, value]
    if served is None and model is not None:
        out.argv += ["--served-model-name", model]
    out.argv += ["--host", host, *extra]
    return out
