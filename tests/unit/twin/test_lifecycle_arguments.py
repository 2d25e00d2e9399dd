"""`twin up` refuses bad arguments before it builds, starts or writes anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client

from brixcheck.cli import main
from brixcheck.errors import BrixcheckError
from brixcheck.twin import lifecycle


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BRIXCHECK_TWIN_CACHE", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"nodes": "nope"}, "unknown node profile 'nope'; choose one of: k3s-rtx4060, three-gpu"),
    ({"time_factor": -1.0}, "--time-factor must be a positive number, got -1"),
    ({"time_factor": 0.0}, "--time-factor must be a positive number, got 0"),
])
def test_up_refuses_bad_arguments_before_starting_anything(empty_cache: Path, kwargs, message):
    with pytest.raises(BrixcheckError) as refused:
        lifecycle.up(**kwargs)
    assert str(refused.value).startswith(message)
    assert list(empty_cache.iterdir()) == []  # nothing built, started or written


def test_cli_refuses_an_unknown_node_profile_with_exit_2(empty_cache: Path, capsys):
    assert main(["twin", "up", "--nodes", "nope"]) == 2
    assert capsys.readouterr().err == ("brixcheck: unknown node profile 'nope'; choose one of: "
                                       "k3s-rtx4060, three-gpu\n")
    assert list(empty_cache.iterdir()) == []


@pytest.mark.parametrize(("argv", "message"), [
    (["--time-factor", "-1"], "argument --time-factor: must be a finite number above 0, got -1"),
    (["--time-factor", "inf"], "must be a finite number above 0, got inf"),
    (["--time-factor", "fast"], "argument --time-factor: 'fast' is not a number"),
])
def test_cli_refuses_bad_up_arguments_with_exit_2(empty_cache: Path, capsys, argv, message):
    with pytest.raises(SystemExit) as done:
        main(["twin", "up", *argv])
    assert done.value.code == 2
    assert message in capsys.readouterr().err
    assert list(empty_cache.iterdir()) == []


def test_a_node_is_schedulable_only_when_ready_without_a_not_ready_taint():
    def node(ready: str, taints: list[str]) -> client.V1Node:
        return client.V1Node(
            status=client.V1NodeStatus(conditions=[client.V1NodeCondition(type="Ready",
                                                                         status=ready)]),
            spec=client.V1NodeSpec(taints=[client.V1Taint(key=k, effect="NoSchedule")
                                           for k in taints]))

    assert lifecycle._schedulable(node("True", ["nvidia.com/gpu"]))
    assert not lifecycle._schedulable(node("True", ["node.kubernetes.io/not-ready"]))
    assert not lifecycle._schedulable(node("Unknown", []))
