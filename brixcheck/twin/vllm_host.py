"""Real vLLM OpenAI servers on CPU, one subprocess per model pod, with EngineHost's interface.

The pod backer uses this instead of the emulator's `EngineHost` when the twin runs with
`--engine vllm`: `add()` starts `python -m vllm.entrypoints.openai.api_server` from the real
engine's venv (`brixcheck.twin.vllm_install`) with the pod's translated arguments
(`brixcheck.twin.vllm_args`), bound to the pod IP; its stdout and stderr go to the container log
in containerd's CRI format, as a node would write them; `remove()` stops its process group
(vLLM's API server, engine core and worker processes) with SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from brixcheck.children import die_with_parent
from brixcheck.engine.host import HostError
from brixcheck.twin import vllm_install
from brixcheck.twin.pods import serving_port
from brixcheck.twin.vllm_args import translate

STOP_TIMEOUT_S = 15.0
MODULE = "vllm.entrypoints.openai.api_server"


def cri_line(stream: str, text: str) -> str:
    """One line of containerd's CRI log format."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
    return f"{stamp}.{int(now % 1 * 1e9):09d}Z {stream} F {text}\n"


@dataclass
class VllmProcess:
    """One running real server."""

    address: str
    process: asyncio.subprocess.Process
    log: TextIO
    exited: asyncio.Future[int]
    started_s: float = field(default_factory=time.monotonic)
    pumps: list[asyncio.Task[None]] = field(default_factory=list)
    reaper: asyncio.Task[None] | None = None


class VllmHost:
    """Owns the real servers of the pod backer."""

    def __init__(self, extra_args: tuple[str, ...] = vllm_install.ENGINE_ARGS) -> None:
        self.engines: dict[str, VllmProcess] = {}
        self.extra_args = extra_args

    async def add(self, name: str, argv: list[str], host: str | None = None,
                  log_path: Path | None = None, cri_log: bool = True) -> VllmProcess:
        """Start a real server for a pod; HostError when it cannot even be launched."""
        if not vllm_install.is_installed():
            raise HostError(503, "the real vLLM engine is not installed: run "
                                 "`make twin-vllm` (python -m brixcheck.twin.vllm_install)")
        old = self.engines.get(name)
        if old is not None and not old.exited.done():
            raise HostError(409, f"engine {name!r} is running; delete it first")
        ip = host or "127.0.0.1"
        translated = translate(argv, vllm_install.model_dir(), ip, self.extra_args)
        log = (log_path or Path(os.devnull)).open("a", buffering=1)
        write = (lambda s, t: log.write(cri_line(s, t))) if cri_log \
            else (lambda _s, t: log.write(t + "\n"))
        for flag, reason in translated.dropped:
            write("stderr", f"brixcheck twin: dropped `{flag}` for the CPU engine: {reason}")
        command = [str(vllm_install.venv_python()), "-m", MODULE, *translated.argv]
        write("stderr", f"brixcheck twin: exec {' '.join(command[1:])}")
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL, env=vllm_install.engine_env(),
            start_new_session=True, preexec_fn=die_with_parent())
        exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        engine = VllmProcess(f"{ip}:{serving_port(argv)}", process, log, exited)
        engine.pumps = [asyncio.ensure_future(_pump(process.stdout, "stdout", write)),
                        asyncio.ensure_future(_pump(process.stderr, "stderr", write))]
        engine.reaper = asyncio.ensure_future(_reap(engine))
        self.engines[name] = engine
        return engine

    async def remove(self, name: str) -> None:
        """Stop a server (its whole process group) and forget it."""
        engine = self.engines.pop(name, None)
        if engine is None:
            return
        await stop_group(engine.process.pid, engine.exited)
        await asyncio.gather(*engine.pumps, return_exceptions=True)
        engine.log.close()

    async def stop_all(self) -> None:
        """Stop every server."""
        await asyncio.gather(*(self.remove(name) for name in list(self.engines)))


async def _pump(stream: asyncio.StreamReader | None, name: str, write) -> None:
    if stream is None:
        return
    while line := await stream.readline():
        write(name, line.decode(errors="replace").rstrip("\n"))


async def _reap(engine: VllmProcess) -> None:
    code = await engine.process.wait()
    await asyncio.gather(*engine.pumps, return_exceptions=True)
    if not engine.exited.done():
        engine.exited.set_result(code if code >= 0 else 128 - code)


async def stop_group(pgid: int, exited: asyncio.Future[int]) -> None:
    """SIGTERM the process group we started, SIGKILL it if it outlives the timeout."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(exited), STOP_TIMEOUT_S)
            if sig is signal.SIGTERM:
                # vLLM's engine core may outlive the API server briefly; end the group too.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
            return
