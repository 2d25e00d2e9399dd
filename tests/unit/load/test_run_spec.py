"""The run file: what brixcheck writes is what the locustfile reads, typed, and a bad one is one
clear sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from brixcheck.load.run_spec import OpenLoop, RunSpec, Workload, read_run, write_run
from brixcheck.load.schedule import Arrival, arrival_offsets


def _spec(rate: float = 0.1 + 0.2) -> RunSpec:
    return RunSpec(workload=Workload(model="m", seed=5),
                   open_loop=OpenLoop(rate_per_s=rate, arrival="constant", duration_s=30),
                   headers={"routing-strategy": "random"}, records_dir="r")


def test_the_file_reads_back_equal_to_what_was_written(tmp_path: Path):
    spec = _spec()
    back = read_run(write_run(spec, tmp_path / "run.json"))
    assert back == spec
    assert back.open_loop is not None
    assert back.open_loop.arrival is Arrival.CONSTANT
    # A rate that is not a short decimal survives exactly, so the schedule is the same one.
    assert arrival_offsets(back.open_loop.rate_per_s, 30, back.open_loop.arrival) == \
        arrival_offsets(0.1 + 0.2, 30, Arrival.CONSTANT)


def test_an_unknown_key_is_an_error_naming_it(tmp_path: Path):
    path = tmp_path / "run.json"
    path.write_text(_spec().model_dump_json().replace('"workers"', '"wrokers"'))
    with pytest.raises(ValueError, match=r"run file .* is not a brixcheck run: wrokers: Extra"):
        read_run(path)


def test_a_missing_file_says_how_to_pass_one(tmp_path: Path):
    with pytest.raises(ValueError, match=r"cannot be read .*pass --brixcheck-run FILE"):
        read_run(tmp_path / "absent.json")
