"""The results database: runs, summaries and raw samples round-trip; run references resolve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from brixcheck.errors import BrixcheckError
from brixcheck.history.store import ResultsDb
from brixcheck.report.fingerprint import fingerprint
from tests.unit.history.helpers import ENVIRONMENT, store_run


def test_fingerprint_covers_only_the_environment_identity():
    same = fingerprint(ENVIRONMENT | {"nodes": 3, "hostname": "x"})
    assert same == fingerprint(ENVIRONMENT)
    assert fingerprint(ENVIRONMENT | {"model": "other"}) != same
    assert fingerprint(ENVIRONMENT | {"aibrixVersion": "v0.6.0"}) != same


def test_run_round_trips_with_summary_and_raw_samples(tmp_path: Path):
    stored = store_run(tmp_path / "h.db", "n1", "2026-01-01T02:00:00Z")
    with ResultsDb(tmp_path / "h.db") as db:
        row = db.run("n1")
        samples = db.samples("n1")
        summary = db.summary("n1").set_index("group")
    assert (row.status, row.fingerprint) == ("VALID", fingerprint(ENVIRONMENT))
    assert row.scenario == "streaming-chat"
    assert row.config["analysis"]["schedule"] == {"rate_per_s": 20, "duration_s": 15,
                                                  "arrival": None, "seed": 0}
    for kind in ("ttft_ms", "e2e_ms", "tpot_ms", "itl_ms", "output_tokens_per_s"):
        np.testing.assert_array_equal(samples["random"][kind], stored.samples["random"][kind])
    assert len(samples["random"]["ttft_ms"]) == 300
    assert summary.loc["random", "ttft_ms_p50"] == pytest.approx(
        float(stored.summary.set_index("group").loc["random", "ttft_ms_p50"]))


def test_storing_a_run_again_replaces_it(tmp_path: Path):
    store_run(tmp_path / "h.db", "n1", "2026-01-01T02:00:00Z")
    store_run(tmp_path / "h.db", "n1", "2026-01-01T02:00:00Z", seed=9)
    with ResultsDb(tmp_path / "h.db") as db:
        assert [r.run_id for r in db.runs()] == ["n1"]


def test_latest_before_takes_the_newest_earlier_valid_run_of_the_fingerprint(tmp_path: Path):
    db_path = tmp_path / "h.db"
    store_run(db_path, "n1", "2026-01-01T02:00:00Z")
    store_run(db_path, "n2", "2026-01-02T02:00:00Z")
    store_run(db_path, "n3-invalid", "2026-01-03T02:00:00Z", send_lag_ms=50)
    store_run(db_path, "other-model", "2026-01-03T03:00:00Z",
              environment=ENVIRONMENT | {"model": "other"})
    store_run(db_path, "n4", "2026-01-04T02:00:00Z")
    with ResultsDb(db_path) as db:
        latest = db.resolve("latest")
        assert latest.run_id == "n4"
        assert db.resolve("latest-before", latest).run_id == "n2"
        assert db.run("n3-invalid").status == "INVALID"
        assert db.resolve("latest-before", db.run("n1")) is None


def test_unknown_run_lists_the_stored_ones(tmp_path: Path):
    store_run(tmp_path / "h.db", "n1", "2026-01-01T02:00:00Z")
    with ResultsDb(tmp_path / "h.db") as db, pytest.raises(BrixcheckError) as info:
        db.run("nope")
    assert "run 'nope' is not in the history" in str(info.value)
    assert "latest: n1" in info.value.remedy


def test_empty_history_has_no_latest_run(tmp_path: Path):
    with ResultsDb(tmp_path / "h.db") as db, pytest.raises(BrixcheckError, match="empty"):
        db.resolve("latest")


def test_sqlite_url_is_accepted_and_server_urls_are_refused(tmp_path: Path):
    with ResultsDb(f"sqlite:///{tmp_path}/u.db") as db:
        assert db.runs() == []
    assert (tmp_path / "u.db").exists()
    with pytest.raises(BrixcheckError, match="postgresql:// is not supported"):
        ResultsDb("postgresql://db/brixcheck")


def test_trend_has_one_row_per_run_and_group(tmp_path: Path):
    db_path = tmp_path / "h.db"
    for day in (1, 2, 3):
        store_run(db_path, f"n{day}", f"2026-01-0{day}T02:00:00Z", seed=day)
    with ResultsDb(db_path) as db:
        trend = db.trend(fingerprint(ENVIRONMENT), ["ttft_ms_p50", "output_tokens_per_s"])
    assert trend["run_id"].tolist() == ["n1", "n2", "n3"]
    assert trend["ttft_ms_p50"].between(30, 80).all()
