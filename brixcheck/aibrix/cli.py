"""Entry points of `brixcheck stack install | status | uninstall`."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from brixcheck.aibrix import release
from brixcheck.aibrix.install import Installer
from brixcheck.errors import BrixcheckError
from brixcheck.target import connect
from brixcheck.twin.build import cache_root
from brixcheck.twin.cluster import TwinLayout


def kubeconfig_path(option: str | None) -> Path:
    """--kubeconfig, else $KUBECONFIG, else the running twin's kubeconfig."""
    chosen = option or os.environ.get("KUBECONFIG")
    if chosen:
        return Path(chosen).expanduser()
    twin = TwinLayout.default().kubeconfig
    if twin.exists():
        return twin
    raise BrixcheckError("no cluster given and the twin is not up",
                         "pass --kubeconfig PATH (or set KUBECONFIG), or start the twin with "
                         "`brixcheck twin up`")


def main_stack(command: str, kubeconfig: str | None, source: str | None, small: bool,
               timeout_s: float) -> int:
    """Dispatch `brixcheck stack COMMAND`; 0 on success."""
    path = kubeconfig_path(kubeconfig)
    target = connect(path, "cluster")
    files = release.load(source or release.default_source(), cache_root())
    installer = Installer(target.api_client, lambda line: print(line, flush=True))
    print(f"[stack] release files: {files.source}; cluster: {path}", flush=True)
    if command == "install":
        report = installer.install(files, uuid.uuid4().hex[:12],
                                   release.SMALL_OVERLAY if small else None, timeout_s)
        print("\n".join(report.lines()))
        return 0
    if command == "status":
        print("\n".join(installer.status_lines(files)))
        return 0
    removed = installer.uninstall(files)
    print(f"[stack] removed {len(removed)} objects brixcheck had installed"
          + ("" if removed else " (nothing of brixcheck's was installed)"))
    return 0
