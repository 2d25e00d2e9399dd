"""Doctor's reading (logs that do not exist read as empty) and its kubeconfig choice."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes.client.rest import ApiException

from brixcheck.doctor import cli
from brixcheck.doctor.read import log_reader
from brixcheck.errors import BrixcheckError


class FakeCore:
    """Answers logs from a table; a missing previous log is the API's 400."""

    def __init__(self) -> None:
        self.calls = 0

    def read_namespaced_pod_log(self, name, namespace, container, previous, **_kwargs):
        self.calls += 1
        if previous:
            raise ApiException(status=400, reason="previous terminated container not found")
        return f"log of {namespace}/{name}/{container}"


def test_log_reader_missing_previous_log_reads_empty():
    read = log_reader(FakeCore())
    assert read("ns", "p", "c", True) == ""
    assert read("ns", "p", "c", False) == "log of ns/p/c"


def test_log_reader_reads_each_log_once():
    core = FakeCore()
    read = log_reader(core)
    read("ns", "p", "c", False)
    read("ns", "p", "c", False)
    assert core.calls == 1


def test_kubeconfig_option_wins_over_the_environment(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "env"))
    assert cli.find_kubeconfig(str(tmp_path / "opt")) == tmp_path / "opt"
    assert cli.find_kubeconfig(None) == tmp_path / "env"


def test_no_kubeconfig_anywhere_is_one_sentence(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setattr(cli, "_twin_kubeconfig", lambda: tmp_path / "twin")
    monkeypatch.setattr(cli, "K3S_KUBECONFIG", tmp_path / "k3s.yaml")
    monkeypatch.setattr(cli, "USER_KUBECONFIG", tmp_path / "config")
    with pytest.raises(BrixcheckError, match="no kubeconfig given and none found"):
        cli.find_kubeconfig(None)
