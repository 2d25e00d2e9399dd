"""Entry points of `brixcheck stack install | status | uninstall`."""

from __future__ import annotations

import uuid
from pathlib import Path

from brixcheck.cluster.target import connect
from brixcheck.config.kubeconfig import require_kubeconfig
from brixcheck.installer import release
from brixcheck.installer.install import Installer
from brixcheck.twin.build import cache_root


def main_stack(command: str, kubeconfig: Path | None, source: str | None, small: bool,
               timeout_s: float) -> int:
    """Dispatch `brixcheck stack COMMAND`; 0 on success."""
    path = require_kubeconfig(kubeconfig).path
    target = connect(path)
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
