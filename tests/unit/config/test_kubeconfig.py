"""The one kubeconfig order: --kubeconfig, $KUBECONFIG's first entry, the running twin's, K3s's,
~/.kube/config; nothing found is one sentence for the commands."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from brixcheck.cli import main
from brixcheck.config import kubeconfig
from brixcheck.config.kubeconfig import (
    KubeconfigSource,
    find_kubeconfig,
    reaches_twin,
    require_kubeconfig,
)
from brixcheck.errors import BrixcheckError


@pytest.fixture
def files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Path]:
    """The twin's, K3s's and the user's kubeconfig paths, none of them present yet."""
    paths = {"twin": tmp_path / "twin", "k3s": tmp_path / "k3s.yaml", "user": tmp_path / "config"}
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setattr(kubeconfig, "twin_kubeconfig", lambda: paths["twin"])
    monkeypatch.setattr(kubeconfig, "K3S_KUBECONFIG", paths["k3s"])
    monkeypatch.setattr(kubeconfig, "USER_KUBECONFIG", paths["user"])
    return paths


def test_kubeconfig_option_wins_over_the_environment(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "env"))
    assert require_kubeconfig(str(tmp_path / "opt")).path == tmp_path / "opt"
    assert require_kubeconfig(None).path == tmp_path / "env"


def test_kubeconfig_environment_path_list_gives_its_first_entry(tmp_path: Path):
    listed = os.pathsep.join(["", str(tmp_path / "a"), str(tmp_path / "b")])
    found = find_kubeconfig(None, environ={"KUBECONFIG": listed})
    assert found is not None
    assert (found.path, found.source) == (tmp_path / "a", KubeconfigSource.ENVIRONMENT)


def test_kubeconfig_empty_environment_is_not_a_choice(files: dict[str, Path]):
    assert find_kubeconfig(None, environ={"KUBECONFIG": ""}) is None


def test_kubeconfig_files_are_tried_twin_then_k3s_then_user(files: dict[str, Path]):
    seen = []
    for name in ("user", "k3s", "twin"):  # each new file comes earlier in the order
        files[name].write_text("")
        found = find_kubeconfig(None)
        assert found is not None
        seen.append((found.path, found.source))
    assert seen == [(files["user"], KubeconfigSource.USER), (files["k3s"], KubeconfigSource.K3S),
                    (files["twin"], KubeconfigSource.TWIN)]


def test_kubeconfig_option_is_expanded(files: dict[str, Path]):
    found = find_kubeconfig("~/k.yaml")
    assert found is not None
    assert found.path == Path("~/k.yaml").expanduser()


def test_no_kubeconfig_anywhere_is_one_sentence(files: dict[str, Path]):
    assert find_kubeconfig(None) is None
    with pytest.raises(BrixcheckError, match="no kubeconfig given and none found"):
        require_kubeconfig(None)


@pytest.mark.parametrize("command", [["doctor"], ["stack", "status"]])
def test_commands_without_any_kubeconfig_say_so_in_one_line(files: dict[str, Path], capsys,
                                                            command: list[str]):
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.startswith("brixcheck: no kubeconfig given and none found")
    assert err.count("\n") == 1


def test_reaches_twin_only_when_no_cluster_comes_first(files: dict[str, Path]):
    assert reaches_twin(environ={})  # nothing found: the suite starts the twin
    files["twin"].write_text("")
    assert reaches_twin(environ={})
    files["k3s"].write_text("")
    assert reaches_twin(environ={})  # the running twin comes before K3s's file
    files["twin"].unlink()
    assert not reaches_twin(environ={})
    assert not reaches_twin(environ={"KUBECONFIG": str(files["twin"])})
