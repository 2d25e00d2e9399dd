"""`twin up` is idempotent and `twin down` leaves no process, port or file behind.

Named so that it runs after the pod tests: it takes the twin down and brings it back.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from brixcheck.twin import lifecycle
from brixcheck.twin.cluster import TwinLayout

pytestmark = [pytest.mark.twin, pytest.mark.timeout(300)]


def _pids(layout: TwinLayout) -> list[int]:
    pid_dir = layout.kwok_workdir / "clusters" / layout.name / "pids"
    pids = [int(p.read_text()) for p in pid_dir.glob("*.pid")]
    return [*pids, json.loads(layout.state_file.read_text())["backer_pid"]]


def _api_port(layout: TwinLayout) -> int:
    server = yaml.safe_load(layout.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    return urlparse(server).port or 443


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def test_up_again_keeps_the_running_twin(twin: TwinLayout):
    before = _pids(twin)
    start = time.monotonic()
    lifecycle.up()
    assert time.monotonic() - start < 5
    assert _pids(twin) == before


def test_down_leaves_nothing_and_up_comes_back(twin: TwinLayout):
    pids, port = _pids(twin), _api_port(twin)
    assert len(pids) == 6  # etcd, apiserver, controller manager, scheduler, kwok, pod backer
    lifecycle.down()
    assert not [pid for pid in pids if _alive(pid)]
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    assert not twin.run_dir.exists()
    lifecycle.up()
    assert lifecycle.status() == 0
    assert twin.kubeconfig.exists()
