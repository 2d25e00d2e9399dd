"""SIGINT and SIGTERM end a run the same way: clean-up runs and the results are marked partial.

The first signal raises KeyboardInterrupt (what pytest and every `finally` already handle) and
remembers which signal it was, so reports can say why they are partial. A second signal during
the clean-up ends the process at once with one line instead of a traceback; what it leaves in a
cluster carries a heartbeat that the next run reads (brixcheck.cluster.kube.reap_stale_namespaces).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_INTERRUPTED = 130


class Interrupts:
    """Installed once per run; `reason` is empty until a signal arrived."""

    def __init__(self) -> None:
        self.reason = ""
        self.groups: set[int] = set()  # process groups (load generators) to end on a fast exit
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Take SIGINT and SIGTERM (main thread only; elsewhere signals cannot be handled)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        """Give the signals back to whoever had them."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.reason:
            sys.stderr.write(f"\nbrixcheck: {name} during clean-up after {self.reason}; stopping "
                             "now (the next run removes what this one left in the cluster)\n")
            sys.stderr.flush()
            for group in self.groups:
                with contextlib.suppress(OSError):
                    os.killpg(group, signal.SIGKILL)
            os._exit(EXIT_INTERRUPTED)
        self.reason = f"interrupted by {name}"
        raise KeyboardInterrupt(self.reason)


CURRENT = Interrupts()
