"""The results database (SQLite, stdlib `sqlite3`): runs, summary metrics, raw samples.

Tables (schema version in `meta`):

- `runs`: run id, environment fingerprint, start time (ISO 8601 UTC), scenario, status
  (VALID / INVALID / PARTIAL) with reasons, environment stamp and run configuration (JSON);
- `summaries`: one row per run, group and metric (the `summarize` columns);
- `samples`: per run, group and kind (`ttft_ms`, `e2e_ms`, `tpot_ms`, `itl_ms` per token,
  `output_tokens_per_s` per-second bins) the raw values as little-endian float64, so later
  comparisons can run significance tests.

Only a file path or a `sqlite:///path` URL is accepted; server databases (a SQLAlchemy URL
such as `postgresql://`) are out of scope and refused with that remedy.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brixcheck.errors import BrixcheckError
from brixcheck.report.fingerprint import fingerprint

SCHEMA_VERSION = "1"
LATEST = "latest"
LATEST_BEFORE = "latest-before"
_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, started_at TEXT NOT NULL,
    scenario TEXT NOT NULL, status TEXT NOT NULL, reasons TEXT NOT NULL,
    environment TEXT NOT NULL, config TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_by_fingerprint ON runs (fingerprint, started_at);
CREATE TABLE IF NOT EXISTS summaries (
    run_id TEXT NOT NULL REFERENCES runs ON DELETE CASCADE, grp TEXT NOT NULL,
    metric TEXT NOT NULL, value REAL, PRIMARY KEY (run_id, grp, metric));
CREATE TABLE IF NOT EXISTS samples (
    run_id TEXT NOT NULL REFERENCES runs ON DELETE CASCADE, grp TEXT NOT NULL,
    kind TEXT NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (run_id, grp, kind));
"""


@dataclass(frozen=True)
class StoredRun:
    """One run as the history keeps it."""

    run_id: str
    started_at: str
    status: str
    reasons: tuple[str, ...]
    environment: dict[str, Any]
    config: dict[str, Any]
    summary: pd.DataFrame  # `summarize` rows, with a `group` column
    samples: Mapping[str, Mapping[str, np.ndarray]]  # group -> kind -> values

    @property
    def fingerprint(self) -> str:
        """The environment fingerprint (`report.fingerprint`)."""
        return fingerprint(self.environment)


@dataclass(frozen=True)
class RunRow:
    """A run's identity row (without summaries and samples)."""

    run_id: str
    fingerprint: str
    started_at: str
    scenario: str
    status: str
    reasons: tuple[str, ...]
    environment: dict[str, Any]
    config: dict[str, Any]


def database_path(location: str | Path) -> Path:
    """The SQLite file of a path or `sqlite:///path` URL.

    Args:
        location: a file path, or a `sqlite:///` URL.

    Returns:
        The file path.

    Raises:
        BrixcheckError: for any other URL scheme (server databases are not supported).
    """
    text = str(location)
    if text.startswith("sqlite:///"):
        return Path(text.removeprefix("sqlite:///"))
    if "://" in text:
        raise BrixcheckError(f"database URL {text.split('://')[0]}:// is not supported",
                             "pass a SQLite file path or sqlite:///path (server databases "
                             "are out of scope)")
    return Path(text)


@contextmanager
def history_errors(location: str | Path) -> Iterator[None]:
    """Turn SQLite's errors on a damaged or foreign file into one sentence naming the file."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise BrixcheckError(f"{database_path(location)} is not a readable brixcheck results "
                             f"history (SQLite: {exc})", "move the damaged file away (a new "
                             "one is created on the next run) or point at the right one"
                             ) from None


def _blob(values: np.ndarray) -> bytes:
    return np.asarray(values, dtype="<f8").tobytes()


def _numbers(summary: pd.DataFrame) -> list[tuple[str, str, float | None]]:
    rows = []
    for record in summary.to_dict(orient="records"):
        for metric, value in record.items():
            if metric != "group" and isinstance(value, int | float | np.number) \
                    and not isinstance(value, bool):
                number = float(value)
                rows.append((str(record["group"]), metric, None if np.isnan(number) else number))
    return rows


class ResultsDb:
    """A results database; use as a context manager (commits and closes on exit)."""

    def __init__(self, location: str | Path, read_only: bool = False) -> None:
        """Open (and create if needed) the database.

        Args:
            location: a SQLite file path or `sqlite:///path` URL.
            read_only: open an existing database only; never create one.

        Raises:
            BrixcheckError: read_only and no file there, or the file is not a results history.
        """
        path = database_path(location)
        if read_only:
            if not path.is_file():
                raise BrixcheckError(f"there is no results history at {path}",
                                     "run a benchmark first (`brixcheck bench`) or pass --db "
                                     "with the history it wrote")
            self._conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path)
        with history_errors(path):
            self._conn.execute("PRAGMA foreign_keys = ON")
            if not read_only:
                self._conn.executescript(_DDL)
                self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                                   (SCHEMA_VERSION,))
            self._conn.execute("SELECT count(*) FROM runs").fetchone()

    def __enter__(self) -> ResultsDb:
        """Enter the context."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Commit and close."""
        self.close()

    def close(self) -> None:
        """Commit and close the connection."""
        self._conn.commit()
        self._conn.close()

    def save_run(self, run: StoredRun) -> None:
        """Store a run (replacing a run with the same id).

        Args:
            run: the run, its summary and raw samples.
        """
        with self._transaction() as conn:
            conn.execute("DELETE FROM runs WHERE run_id = ?", (run.run_id,))
            conn.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (
                run.run_id, run.fingerprint, run.started_at,
                str(run.environment.get("scenario", "")), run.status,
                json.dumps(list(run.reasons)), json.dumps(run.environment, default=str),
                json.dumps(run.config, default=str)))
            conn.executemany("INSERT INTO summaries VALUES (?, ?, ?, ?)",
                             [(run.run_id, *row) for row in _numbers(run.summary)])
            conn.executemany("INSERT INTO samples VALUES (?, ?, ?, ?, ?)", [
                (run.run_id, group, kind, len(values), _blob(values))
                for group, kinds in run.samples.items() for kind, values in kinds.items()])

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._conn:
            yield self._conn

    def run(self, run_id: str) -> RunRow:
        """The identity row of a run.

        Args:
            run_id: the run's id.

        Returns:
            The row.

        Raises:
            BrixcheckError: when no such run is stored (the message lists recent ones).
        """
        row = self._conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            recent = ", ".join(r.run_id for r in self.runs()[-5:]) or "none"
            raise BrixcheckError(f"run {run_id!r} is not in the history",
                                 f"pass one of the stored runs (latest: {recent}) or "
                                 f"'{LATEST}' / '{LATEST_BEFORE}'")
        return RunRow(row[0], row[1], row[2], row[3], row[4], tuple(json.loads(row[5])),
                      json.loads(row[6]), json.loads(row[7]))

    def runs(self, fingerprint: str | None = None) -> list[RunRow]:
        """Stored runs, oldest first (by start time, then insertion order).

        Args:
            fingerprint: only runs with this fingerprint.

        Returns:
            The identity rows.
        """
        query = "SELECT run_id FROM runs"
        args: tuple[str, ...] = ()
        if fingerprint:
            query, args = query + " WHERE fingerprint = ?", (fingerprint,)
        ids = [r[0] for r in self._conn.execute(query + " ORDER BY started_at, rowid", args)]
        return [self.run(i) for i in ids]

    def samples(self, run_id: str) -> dict[str, dict[str, np.ndarray]]:
        """A run's raw samples.

        Args:
            run_id: the run's id.

        Returns:
            group -> kind -> float64 array.
        """
        out: dict[str, dict[str, np.ndarray]] = {}
        for group, kind, data in self._conn.execute(
                "SELECT grp, kind, data FROM samples WHERE run_id = ?", (run_id,)):
            out.setdefault(group, {})[kind] = np.frombuffer(data, dtype="<f8").copy()
        return out

    def summary(self, run_id: str) -> pd.DataFrame:
        """A run's summary metrics, one row per group.

        Args:
            run_id: the run's id.

        Returns:
            Columns `group` and one per metric.
        """
        rows = self._conn.execute("SELECT grp, metric, value FROM summaries WHERE run_id = ?",
                                  (run_id,)).fetchall()
        frame = pd.DataFrame(rows, columns=["group", "metric", "value"])
        if frame.empty:
            return pd.DataFrame(columns=["group"])
        return frame.pivot(index="group", columns="metric", values="value").reset_index()

    def trend(self, fingerprint: str, metrics: Sequence[str]) -> pd.DataFrame:
        """Metrics of every run with a fingerprint, for trend plots.

        Args:
            fingerprint: the environment fingerprint.
            metrics: summary metric names.

        Returns:
            Columns `run_id`, `started_at` (datetime), `status`, `group` and the metrics.
        """
        marks = ",".join("?" * len(metrics))
        rows = self._conn.execute(
            "SELECT r.run_id, r.started_at, r.status, s.grp, s.metric, s.value FROM runs r "
            f"JOIN summaries s USING (run_id) WHERE r.fingerprint = ? AND s.metric IN ({marks})",
            (fingerprint, *metrics)).fetchall()
        frame = pd.DataFrame(rows, columns=["run_id", "started_at", "status", "group", "metric",
                                            "value"])
        if frame.empty:
            return pd.DataFrame(columns=["run_id", "started_at", "status", "group", *metrics])
        wide = frame.pivot_table(index=["run_id", "started_at", "status", "group"],
                                 columns="metric", values="value").reset_index()
        wide["started_at"] = pd.to_datetime(wide["started_at"], utc=True)
        return wide.sort_values("started_at", ignore_index=True)

    def resolve(self, ref: str, candidate: RunRow | None = None) -> RunRow | None:
        """A run reference as a run: an id, `latest`, or `latest-before` (the candidate).

        Args:
            ref: run id, `latest` (newest run), or `latest-before` (newest VALID run with the
                candidate's fingerprint started before it).
            candidate: required for `latest-before`.

        Returns:
            The run; None when `latest-before` finds none (first run of a fingerprint).

        Raises:
            BrixcheckError: for an unknown id, an empty history, or `latest-before` without a
                candidate.
        """
        if ref == LATEST:
            runs = self.runs()
            if not runs:
                raise BrixcheckError("the results history is empty",
                                     "store a benchmark run first (or check --db)")
            return runs[-1]
        if ref == LATEST_BEFORE:
            if candidate is None:
                raise BrixcheckError(f"'{LATEST_BEFORE}' needs a candidate run",
                                     "use it only as the baseline")
            earlier = [r for r in self.runs(candidate.fingerprint)
                       if r.started_at < candidate.started_at and r.status == "VALID"
                       and r.run_id != candidate.run_id]
            return earlier[-1] if earlier else None
        return self.run(ref)
