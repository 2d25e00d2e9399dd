"""Child processes that cannot outlive the brixcheck process that started them.

Linux's parent-death signal: a child started with `die_with_parent()` as its `preexec_fn` gets
SIGTERM when its parent dies, however the parent died (SIGKILL included), so no program of a
run or of the twin keeps a port, a GPU or sends load after its owner is gone.
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn` that makes the child receive `sig` when this process dies."""
    parent = os.getpid()

    def preexec() -> None:
        _libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec
