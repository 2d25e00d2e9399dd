"""The benchmark session without a cluster: the plan's order and ids, the sweep's stop rule,
what counts as not started, and the reports at the end."""

from __future__ import annotations

import json
from pathlib import Path

from brixcheck.bench.runner import RunResult, records_dir
from brixcheck.bench.scenario import Scenario
from brixcheck.bench.session import BenchSession, PlannedRun, plan
from brixcheck.conformance.model import Capability
from tests.unit.synthetic import RunSpec, make_records

SWEEP = Scenario.model_validate({
    "id": "sw", "description": "d", "strategies": ["baseline", "random"], "repeats": 2,
    "workload": {"model": "m", "seed": 7},
    "load": {"arrival": "constant", "sweep_rates_per_s": [2, 4], "duration_s": 10,
             "warmup_s": 0}})


def _result(out: Path, planned: PlannedRun, error_every: int = 0) -> RunResult:
    records = records_dir(planned.scenario, planned.strategy, planned.repeat, out, planned.level)
    records.mkdir(parents=True)
    rows = make_records(RunSpec(planned.strategy, rate_per_s=planned.rate_per_s or 1,
                                duration_s=10, constant=True, error_every=error_every))
    (records / "0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return RunResult(planned.scenario.id, planned.strategy, planned.repeat, records, 0.0, 0,
                     planned.level)


def test_the_plan_goes_repeat_by_repeat_and_climbs_each_sweep():
    ids = [p.id for p in plan([SWEEP])]
    assert ids == ["sw[baseline]-r0-2rps", "sw[baseline]-r0-4rps", "sw[random]-r0-2rps",
                   "sw[random]-r0-4rps", "sw[baseline]-r1-2rps", "sw[baseline]-r1-4rps",
                   "sw[random]-r1-2rps", "sw[random]-r1-4rps"]
    single = SWEEP.model_copy(update={"load": SWEEP.load.model_copy(
        update={"sweep_rates_per_s": None, "rate_per_s": 3.0})})
    first = plan([single])[0]
    assert (first.id, first.level) == ("sw[baseline]-r0", None)


def test_a_header_strategy_needs_the_gateway_and_cluster_load_the_locust_pods():
    baseline, random = plan([SWEEP])[0], plan([SWEEP])[2]
    assert baseline.needs("local") == {}
    assert set(random.needs("cluster")) == {Capability.LOADGEN_PODS,
                                            Capability.AIBRIX_GATEWAY}


def test_a_breached_sweep_level_stops_that_climb_only(tmp_path: Path):
    session = BenchSession("t", tmp_path, None)
    first, second, other_repeat = plan([SWEEP])[0], plan([SWEEP])[1], plan([SWEEP])[4]
    good = _result(tmp_path, first)
    session.add(first, good)
    assert session.judge(first, good).sustained
    bad = _result(tmp_path, second, error_every=2)
    session.add(second, bad)
    verdict = session.judge(second, bad)
    assert not verdict.sustained
    assert not verdict.invalid  # saturation, not a failure
    assert verdict.saturation.startswith("4 req/s: ")
    assert session.stopped_sweep(second) == f"the sweep stopped: saturated at {verdict.saturation}"
    assert session.stopped_sweep(other_repeat) == ""


def test_an_ordinary_run_breaching_its_guards_is_invalid(tmp_path: Path):
    single = SWEEP.model_copy(update={"load": SWEEP.load.model_copy(
        update={"sweep_rates_per_s": None, "rate_per_s": 2.0})})
    planned = plan([single])[0]
    verdict = BenchSession("t", tmp_path, None).judge(
        planned, _result(tmp_path, planned, error_every=2))
    assert verdict.invalid
    assert any("error" in b for b in verdict.breaches)


def test_finish_reports_each_scenario_and_counts_what_did_not_start(tmp_path: Path):
    session = BenchSession("t", tmp_path, None)
    runs = plan([SWEEP])
    for planned in runs[:2]:
        session.add(planned, _result(tmp_path, planned))
    assert session.unfinished(SWEEP) == len(runs) - 2
    report = session.finish([SWEEP], {}, "image")
    assert not report.unstored
    assert report.lines[-1] == f"benchmark PARTIAL ({len(runs) - 2} runs did not start): " \
        f"{next(tmp_path.glob('benchmark-*.html'))}"
