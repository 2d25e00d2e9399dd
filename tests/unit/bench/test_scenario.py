from __future__ import annotations

from pathlib import Path

import pytest

from brixcheck.aibrix.v0_5 import HEADER_ROUTING_STRATEGY
from brixcheck.bench.runner import locust_command, run_spec
from brixcheck.bench.scenario import SCENARIO_DIR, discover, load_scenario
from brixcheck.errors import BrixcheckError
from brixcheck.load.run_spec import RUN_OPTION, read_run, write_run

GOOD = """
id: t
description: d
strategies: [random]
workload: {model: m}
load: {mode: open, rate_per_s: 2, duration_s: 5}
"""


def test_every_shipped_scenario_validates():
    assert {s.id for s in discover(SCENARIO_DIR)} >= {"baseline-streaming",
                                                     "strategies-prefix-sharing"}


def test_unknown_key_is_an_error_naming_the_field(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD + "lode: {}\n")
    with pytest.raises(BrixcheckError, match=r"bad\.yaml has 1 mistake\(s\): lode: unknown key"):
        load_scenario(path)


def test_open_loop_without_rate_is_an_error(tmp_path: Path):
    path = tmp_path / "norate.yaml"
    path.write_text(GOOD.replace("rate_per_s: 2, ", ""))
    with pytest.raises(BrixcheckError, match="open-loop load needs rate_per_s"):
        load_scenario(path)


def test_sweep_rates_must_rise_and_replace_the_single_rate(tmp_path: Path):
    path = tmp_path / "sweep.yaml"
    path.write_text(GOOD.replace("rate_per_s: 2", "sweep_rates_per_s: [8, 4]"))
    with pytest.raises(BrixcheckError, match="must be positive and strictly rising"):
        load_scenario(path)
    path.write_text(GOOD.replace("rate_per_s: 2", "rate_per_s: 2, sweep_rates_per_s: [4, 8]"))
    with pytest.raises(BrixcheckError, match="rate_per_s or sweep_rates_per_s"):
        load_scenario(path)
    path.write_text(GOOD.replace("rate_per_s: 2", "sweep_rates_per_s: [4, 8]"))
    assert load_scenario(path).load.levels() == [4, 8]


def test_run_file_carries_strategy_and_schedule(tmp_path: Path):
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    scenario = load_scenario(path)
    spec = read_run(write_run(run_spec(scenario, "random", {"model": "m"}, str(tmp_path), 1),
                              tmp_path / "run.json"))
    assert spec.headers[HEADER_ROUTING_STRATEGY] == "random"
    assert spec.open_loop is not None
    assert spec.open_loop.rate_per_s == 2.0
    assert spec.headers["model"] == "m"
    assert spec.workload == scenario.workload
    cmd = locust_command(scenario, "http://127.0.0.1:1", tmp_path, tmp_path / "run.json")
    assert cmd[cmd.index(RUN_OPTION) + 1] == str(tmp_path / "run.json")
    assert not [arg for arg in cmd if arg.startswith("--bc-")]
    assert cmd[-1] == "OpenLoopUser"


def test_processes_make_a_distributed_locust_run(tmp_path: Path):
    path = tmp_path / "dist.yaml"
    path.write_text(GOOD.replace("duration_s: 5", "duration_s: 5, processes: 3"))
    scenario = load_scenario(path)
    cmd = locust_command(scenario, "http://127.0.0.1:1", tmp_path, tmp_path / "run.json")
    spec = run_spec(scenario, "random", {}, str(tmp_path), scenario.load.worker_count())
    assert cmd[cmd.index("--processes") + 1] == str(spec.workers) == "3"
    assert cmd[cmd.index("-u") + 1] == "3"
    one = locust_command(load_scenario(_write(tmp_path)), "http://127.0.0.1:1", tmp_path,
                         tmp_path / "run.json")
    assert "--processes" not in one
    assert "-u" not in one


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "one.yaml"
    path.write_text(GOOD)
    return path


@pytest.mark.parametrize(("value", "cores", "expected"), [("auto", 6, 6), (-1, 2, 2), (4, 8, 4)])
def test_auto_processes_is_one_per_core(tmp_path: Path, value: object, cores: int, expected: int):
    path = tmp_path / "auto.yaml"
    path.write_text(GOOD.replace("duration_s: 5", f"duration_s: 5, processes: {value}"))
    assert load_scenario(path).load.worker_count(cores) == expected


@pytest.mark.parametrize("bad", ["0", "-2", "many"])
def test_bad_process_counts_are_errors(tmp_path: Path, bad: str):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("duration_s: 5", f"duration_s: 5, processes: {bad}"))
    with pytest.raises(BrixcheckError, match=r"load\.processes"):
        load_scenario(path)


def test_where_is_local_or_cluster(tmp_path: Path):
    path = tmp_path / "where.yaml"
    path.write_text(GOOD.replace("duration_s: 5", "duration_s: 5, where: cluster"))
    assert load_scenario(path).load.where == "cluster"
    path.write_text(GOOD.replace("duration_s: 5", "duration_s: 5, where: moon"))
    with pytest.raises(BrixcheckError, match=r"load\.where"):
        load_scenario(path)
