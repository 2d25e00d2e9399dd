"""Engine log lines in vLLM's format, one log per emulated engine.

vLLM prints `LEVEL MM-DD HH:MM:SS [file.py:line] message`; users grep for these lines (for example
"Engine core initialization failed"), and `kubectl logs` on the twin shows them, so the emulator
writes the same shape to the engine's own file or stream.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO


class EngineLog:
    """Append-only, line-buffered log of one engine.

    With `cri=True` every line is written in the CRI log format containerd uses on a node
    (`<RFC 3339 time> stdout F <line>`), which is what `kubectl logs` reads on the twin.
    """

    def __init__(self, path: Path | None = None, cri: bool = False) -> None:
        self.path = path
        self.cri = cri
        self._stream: TextIO = path.open("a", buffering=1) if path else sys.stderr

    def info(self, where: str, message: str) -> None:
        """Write an INFO line; `where` is the vLLM source location shown in brackets."""
        self._line("INFO", where, message)

    def warning(self, where: str, message: str) -> None:
        """Write a WARNING line."""
        self._line("WARNING", where, message)

    def error(self, where: str, message: str) -> None:
        """Write an ERROR line."""
        self._line("ERROR", where, message)

    def raw(self, text: str) -> None:
        """Write text as it is (uvicorn's own lines, tracebacks)."""
        for line in text.rstrip("\n").split("\n"):
            self._write(line)

    def close(self) -> None:
        """Close the file, if the log has one."""
        if self.path is not None:
            self._stream.close()

    def _line(self, level: str, where: str, message: str) -> None:
        stamp = time.strftime("%m-%d %H:%M:%S")
        self._write(f"{level} {stamp} [{where}] {message}")

    def _write(self, line: str) -> None:
        if self.cri:
            now = time.time()
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
            line = f"{stamp}.{int(now % 1 * 1e9):09d}Z stdout F {line}"
        self._stream.write(line + "\n")
