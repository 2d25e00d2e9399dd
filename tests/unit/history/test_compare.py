"""`brixcheck compare`: exit 1 only on a significant regression beyond tolerance."""

from __future__ import annotations

from pathlib import Path

import pytest

from brixcheck.cli import main
from brixcheck.history.compare_cli import parse_tolerances
from tests.unit.history.helpers import store_run


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "history.sqlite"
    store_run(path, "night-1", "2026-01-01T02:00:00Z", seed=1)
    return path


def test_compare_flags_a_candidate_twenty_percent_slower_on_ttft(db: Path, capsys):
    store_run(db, "night-2", "2026-01-02T02:00:00Z", seed=2, ttft_scale=1.2)
    assert main(["compare", "--db", str(db)]) == 1
    out = capsys.readouterr().out
    assert "candidate night-2 vs baseline night-1" in out
    line = next(x for x in out.splitlines() if "ttft_ms_p50" in x)
    assert "REGRESSION" in line
    assert "Mann-Whitney U (greater)" in line
    assert "RESULT: 1 significant regression(s)" in out


def test_compare_passes_an_identical_distribution_rerun(db: Path, capsys):
    store_run(db, "night-2", "2026-01-02T02:00:00Z", seed=2)
    assert main(["compare", "--db", str(db), "--baseline", "night-1",
                 "--candidate", "night-2"]) == 0
    out = capsys.readouterr().out
    assert "REGRESSION" not in out
    assert "RESULT: no significant regression" in out


def test_compare_tolerance_override_can_absorb_the_slowdown(db: Path):
    store_run(db, "night-2", "2026-01-02T02:00:00Z", seed=2, ttft_scale=1.2)
    assert main(["compare", "--db", str(db), "--tolerance", "ttft_ms_p50=30",
                 "--tolerance", "ttft_ms_p99=30"]) == 0


def test_compare_draws_the_trend(db: Path, tmp_path: Path):
    store_run(db, "night-2", "2026-01-02T02:00:00Z", seed=2)
    assert main(["compare", "--db", str(db), "--trend", str(tmp_path / "t.png")]) == 0
    assert (tmp_path / "t.png").read_bytes().startswith(b"\x89PNG")


def test_compare_of_the_first_run_has_nothing_to_compare(db: Path, capsys):
    assert main(["compare", "--db", str(db)]) == 0
    assert "nothing to compare" in capsys.readouterr().out


def test_compare_refuses_an_invalid_candidate(db: Path, capsys):
    store_run(db, "night-2", "2026-01-02T02:00:00Z", send_lag_ms=50)
    assert main(["compare", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "candidate run night-2 is INVALID (random: send lag p99" in err
    assert "only VALID runs can be gated" in err


def test_compare_unknown_tolerance_lists_the_metrics():
    with pytest.raises(Exception, match="choose from ttft_ms_p50, ttft_ms_p99"):
        parse_tolerances(["ttft_ms_p42=10"])


def test_trend_names_runs_and_marks_the_nights_the_gate_flagged(db: Path):
    from brixcheck.analysis.regression import DEFAULT_TOLERANCES, GateSettings
    from brixcheck.history.gate import flagged_nights
    from brixcheck.history.store import ResultsDb
    from brixcheck.plots import trend_figure

    store_run(db, "night-2", "2026-01-02T02:00:00Z", seed=2)
    store_run(db, "night-3", "2026-01-03T02:00:00Z", seed=3, ttft_scale=1.2)
    with ResultsDb(db, read_only=True) as history:
        run = history.run("night-3")
        flagged = flagged_nights(history, run.fingerprint, DEFAULT_TOLERANCES, GateSettings())
        trend = history.trend(run.fingerprint, ["ttft_ms_p50"])
    assert list(flagged) == ["night-3"]
    assert any("ttft_ms_p50" in m for m in flagged["night-3"])
    ax = trend_figure(trend, ["ttft_ms_p50"], set(flagged)).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["night-1", "night-2", "night-3"]
    assert ax.get_ylim()[0] == 0
    ringed = [o[0] for c in ax.collections for o in c.get_offsets()]
    assert ringed == [2]  # night-3 only
