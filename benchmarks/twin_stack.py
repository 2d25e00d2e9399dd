"""Twin with the AIBrix stack: `twin up` time, install time per phase, a second install, memory.

Goals (issue "Fixtures bring up the AIBrix stack"): the twin with the stack up uses at most
1.5 GiB resident memory in total; a warm `twin up` (build cached, twin down) takes at most 10 s.

Run under the twin lock, from the checkout: `.venv/bin/python benchmarks/twin_stack.py`. It
brings the twin up (timed), installs AIBrix v0.5.0 from the release files (per-phase times),
installs again (must change nothing; timed), sums the resident memory of every twin process
(control plane from kwokctl's PID files, the pod backer and all its children: engines, Redis,
metadata service, stack programs, Envoy), then uninstalls. The twin is left up only with --keep.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from pathlib import Path

from kubernetes import config

from brixcheck.installer import release
from brixcheck.installer.install import Installer
from brixcheck.twin import lifecycle
from brixcheck.twin.build import cache_root
from brixcheck.twin.cluster import TwinLayout

GOAL_RSS_MIB = 1536
GOAL_UP_S = 10.0


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def _descendants(root: int, tree: dict[int, list[int]]) -> list[int]:
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += tree.get(pid, [])
    return found


def _rss(pid: int) -> tuple[str, int]:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "", 0
    kib = next((int(line.split()[1]) for line in status.splitlines()
                if line.startswith("VmRSS:")), 0)
    return name, kib // 1024


def twin_memory(layout: TwinLayout) -> dict[str, int]:
    """MiB per process name over the control plane and the pod backer's process tree."""
    state = json.loads(layout.state_file.read_text())
    tree = _children()
    pids = _descendants(int(state["backer_pid"]), tree)
    for pid_file in (layout.kwok_workdir / "clusters" / layout.name / "pids").glob("*.pid"):
        pids += _descendants(int(pid_file.read_text()), tree)
    per: dict[str, int] = {}
    for pid in set(pids):
        name, mib = _rss(pid)
        if name:
            per[name] = per.get(name, 0) + mib
    return per


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="leave the twin and stack up")
    args = parser.parse_args()
    lifecycle.down(quiet=True)
    started = time.monotonic()
    layout = lifecycle.up()
    up_s = time.monotonic() - started
    files = release.load(release.default_source(), cache_root())
    installer = Installer(config.new_client_from_config(str(layout.kubeconfig)), lambda _: None)
    first = installer.install(files, uuid.uuid4().hex[:12])
    started = time.monotonic()
    second = installer.install(files, uuid.uuid4().hex[:12])
    second_s = time.monotonic() - started
    memory = twin_memory(layout)
    total = sum(memory.values())
    print(f"twin up (warm, from down): {up_s:.1f} s (goal <= {GOAL_UP_S:.0f} s: "
          f"{'met' if up_s <= GOAL_UP_S else 'NOT met'})")
    print("\n".join(first.lines()))
    print(f"second install: {second_s:.1f} s, outcome {second.outcome}, created "
          f"{len(second.created)}, changed {len(second.changed)}, unchanged {second.unchanged} "
          f"(stored again without change: {second.restored or 'none'})")
    print(f"twin resident memory with the stack up: {total} MiB (goal <= {GOAL_RSS_MIB} MiB: "
          f"{'met' if total <= GOAL_RSS_MIB else 'NOT met'})")
    print("  " + ", ".join(f"{name} {mib}" for name, mib in
                           sorted(memory.items(), key=lambda kv: -kv[1])))
    if not args.keep:
        installer.uninstall(files)
        lifecycle.down(quiet=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
