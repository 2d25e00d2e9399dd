"""User mistakes on the command line get one sentence and an exit code, never a traceback."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from brixcheck.cli import main


def test_unknown_engine_flag_is_one_clear_line(capsys: pytest.CaptureFixture[str]):
    assert main(["engine", "run", "--model", "m", "--bogus"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["brixcheck: api_server.py: error: unrecognized arguments: --bogus; "
                   "fix the engine arguments (vLLM's flags)"]


def test_unknown_profile_lists_the_choices(capsys: pytest.CaptureFixture[str]):
    assert main(["engine", "run", "--model", "m", "--emu-profile", "a100"]) == 2
    assert "choose from 'h100-80gb', 'rtx4060-8gb'" in capsys.readouterr().err


def test_extra_arguments_elsewhere_are_refused():
    with pytest.raises(SystemExit) as info:
        main(["twin", "status", "--bogus"])
    assert info.value.code == 2


def test_version(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert re.fullmatch(r"brixcheck \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


def test_conformance_is_a_command_that_passes_pytest_arguments():
    from brixcheck.suite_run import pytest_argv

    argv = pytest_argv("conformance", ["-k", "cluster"])
    assert argv[-3:] == ["suites/conformance", "-k", "cluster"]
    assert "conformance" in _help([])


def test_engine_run_help_lists_vllm_and_emulator_flags():
    text = _help(["engine", "run"])
    for flag in ("--gpu-memory-utilization", "--max-model-len", "--enforce-eager",
                 "--emu-profile", "--emu-load-time-factor"):
        assert flag in text


def test_twin_help_hides_the_internal_backer_cleanly():
    text = _help(["twin"])
    assert "==SUPPRESS==" not in text
    assert "backer" not in text
    assert "{build,up,down,status,scenario}" in text


def test_one_name_for_the_history_file_everywhere():
    from brixcheck.resources import CHECKOUT, HISTORY_NAME, default_history_db

    assert default_history_db().name == HISTORY_NAME == "history.sqlite"
    texts = [p.read_text() for p in [CHECKOUT / "README.md", *(CHECKOUT / "docs").glob("*.md")]]
    assert not any("history.db" in text for text in texts)


def _help(args: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main([*args, "--help"])
    return out.getvalue()


def test_stack_without_a_reachable_cluster_is_one_sentence(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    code = main(["stack", "status", "--kubeconfig", str(tmp_path / "missing")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "does not exist" in err
