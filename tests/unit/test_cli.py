"""User mistakes on the command line get one sentence and an exit code, never a traceback."""

from __future__ import annotations

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
