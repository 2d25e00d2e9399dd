"""Writing result files so that a crash or a full disk never leaves a truncated one.

A file is written to a temporary name beside it, synced and renamed over the old one: a reader
sees the old file or the new one, never half of either. A full disk becomes one sentence naming
the directory and its free space; any other write failure one sentence naming the directory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

from brixcheck.errors import BrixcheckError


def free_space(directory: Path) -> str:
    """Free space of the file system holding `directory`, for messages."""
    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        return "unknown"
    return f"{free / 2**20:.1f} MiB" if free >= 2**20 else f"{free} bytes"


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step; on failure raise one sentence, leave `path` as is."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temporary.open("w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise BrixcheckError(
                f"no space left to write {path.name} in {path.parent} "
                f"({free_space(path.parent)} free)",
                "free space there (or point the run at another directory) and run again; "
                "earlier files there are unchanged") from None
        raise BrixcheckError(f"cannot write {path.name} in {path.parent} ({exc.strerror})",
                             "make that directory writable (or run from another directory) and "
                             "run again") from None
