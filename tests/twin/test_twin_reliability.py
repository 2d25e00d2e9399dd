"""The twin's parts die with their parent, are checked by health, refuse what they cannot do.

Named so that it runs after the pod tests: it kills and restarts parts of the twin, and takes it
down once (a taken port must stop `twin up` before anything starts).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from brixcheck.cluster.target import connect
from brixcheck.config.kubeconfig import find_kubeconfig
from brixcheck.errors import BrixcheckError
from brixcheck.twin import dataplane, lifecycle
from brixcheck.twin.cluster import TwinLayout, cluster_exists
from brixcheck.twin.ports import holder, is_free
from tests.twin.conftest import wait_until

pytestmark = [pytest.mark.twin, pytest.mark.timeout(300)]
REDIS, METADATA = dataplane.ports_needed()["Redis"], dataplane.ports_needed()["metadata service"]


def _backer_pid(layout: TwinLayout) -> int:
    return int(json.loads(layout.state_file.read_text())["backer_pid"])


def _pid_on(port: int) -> int:
    return int(holder(port).split()[1])


def test_killed_backer_leaves_no_port_held_and_up_repairs_it(twin: TwinLayout, capsys):
    os.kill(_backer_pid(twin), signal.SIGKILL)
    wait_until(lambda: is_free(REDIS) and is_free(METADATA), 20,
               "Redis and the metadata service to exit with their parent")
    assert lifecycle.status() == 1
    assert "Redis: NOT answering" in capsys.readouterr().out
    lifecycle.up()
    assert lifecycle.status() == 0


def test_killed_envoy_is_seen_by_status_and_restarted_by_up(twin: TwinLayout, capsys):
    envoy = _pid_on(dataplane.ports_needed()["Envoy admin"])
    os.kill(envoy, signal.SIGKILL)
    wait_until(lambda: is_free(dataplane.ports_needed()["Envoy admin"]), 20, "Envoy to die")
    assert lifecycle.status() == 1
    assert "Envoy: NOT answering" in capsys.readouterr().out
    lifecycle.up()
    assert lifecycle.status() == 0
    assert "Envoy: healthy" in capsys.readouterr().out


def test_running_twin_refuses_other_nodes_or_time_factor(twin: TwinLayout):
    with pytest.raises(BrixcheckError, match="already up with node profile 'k3s-rtx4060', not "
                                             "'three-gpu'"):
        lifecycle.up(nodes="three-gpu")
    with pytest.raises(BrixcheckError, match=r"already up with time factor 0\.1, not 0\.5"):
        lifecycle.up(time_factor=0.5)
    with pytest.raises(BrixcheckError, match="unknown node profile 'nope'"):
        lifecycle.up(nodes="nope")


def test_twin_is_known_whichever_way_it_is_reached(twin: TwinLayout):
    by_default = connect(find_kubeconfig(None, environ={}).path)  # the order finds the twin
    by_kubeconfig = connect(twin.kubeconfig)  # --kubeconfig / $KUBECONFIG
    assert by_kubeconfig.kind == "twin"
    assert by_kubeconfig.capabilities == by_default.capabilities
    assert by_kubeconfig.time_scale == by_default.time_scale == lifecycle.time_factor()
    assert by_kubeconfig.twin["gateway"].startswith("http://127.0.0.1:")


def test_taken_port_stops_up_before_anything_starts(twin: TwinLayout):
    lifecycle.down()
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", REDIS))
        squatter.listen()
        with pytest.raises(BrixcheckError, match=f"Redis port {REDIS} held by PID {os.getpid()} "):
            lifecycle.up()
        assert not cluster_exists(twin)
        assert not Path(twin.run_dir).exists()
    start = time.monotonic()
    lifecycle.up()
    assert lifecycle.status() == 0, f"up again took {time.monotonic() - start:.0f} s"


def test_twin_outlives_the_up_command(twin: TwinLayout):
    """`brixcheck twin up` returns; the twin it started keeps running (pod backer included)."""
    lifecycle.down()
    run = subprocess.run([sys.executable, "-m", "brixcheck.cli", "twin", "up"],
                         capture_output=True, text=True, check=False, timeout=240)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert lifecycle.status() == 0
