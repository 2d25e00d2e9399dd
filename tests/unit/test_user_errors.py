"""Every user mistake of docs/user-errors.md: one sentence, exit 2, no traceback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from brixcheck.bench.scenario import discover_all, load_scenario
from brixcheck.cli import main
from brixcheck.cluster import target as target_module
from brixcheck.cluster.target import connect
from brixcheck.engine.api import ApiError, parse_generation
from brixcheck.errors import BrixcheckError
from tests.unit.history.helpers import store_run

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "{server}"}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
"""


def _one_sentence(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("brixcheck: ")
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_malformed_kubeconfig_names_the_line(tmp_path: Path, capsys):
    path = tmp_path / "kubeconfig"
    path.write_text("apiVersion: v1\nclusters: [\n  - {name: x\n")
    assert main(["doctor", "--kubeconfig", str(path)]) == 2
    err = _one_sentence(capsys)
    assert "is not valid YAML" in err
    assert "line 3, column 3" in err


def test_kubeconfig_without_context_is_one_sentence(tmp_path: Path, capsys):
    path = tmp_path / "kubeconfig"
    path.write_text("apiVersion: v1\n")
    assert main(["doctor", "--kubeconfig", str(path)]) == 2
    assert "is not usable: Invalid kube-config file" in _one_sentence(capsys)


def test_silent_api_server_is_one_bounded_wait(tmp_path: Path, silent_server: int,
                                               monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(target_module, "PROBE_TIMEOUT_S", (1.0, 1.0))
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.format(server=f"http://127.0.0.1:{silent_server}"))
    start = time.monotonic()
    with pytest.raises(BrixcheckError, match=r"does not answer \(no answer within 1 s\)"):
        connect(path)
    assert time.monotonic() - start < 3.5  # one wait: no urllib3 retries


def test_refused_api_server_message_has_no_library_reprs(tmp_path: Path):
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.format(server=f"https://127.0.0.1:{port}"))
    with pytest.raises(BrixcheckError) as info:
        connect(path)
    assert "(Connection refused)" in str(info.value)
    assert "object at 0x" not in str(info.value)
    assert "urllib3" not in str(info.value)


def test_engine_host_missing_spec(tmp_path: Path, capsys):
    missing = tmp_path / "missing.json"
    assert main(["engine", "host", "--control", "127.0.0.1:0", "--spec", str(missing)]) == 2
    assert f"engine spec {missing} cannot be read (No such file" in _one_sentence(capsys)


def test_engine_host_spec_that_is_not_json(tmp_path: Path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text("{nope")
    assert main(["engine", "host", "--control", "127.0.0.1:0", "--spec", str(spec)]) == 2
    assert "is not JSON" in _one_sentence(capsys)


def test_engine_host_control_without_port(capsys):
    assert main(["engine", "host", "--control", "localhost"]) == 2
    err = _one_sentence(capsys)
    assert "--control localhost is not HOST:PORT" in err
    assert "None" not in err


def test_engine_run_port_out_of_range(capsys):
    assert main(["engine", "run", "--model", "m", "--port", "70000"]) == 2
    assert "--port must be in 0-65535, got 70000" in _one_sentence(capsys)


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = tmp_path / "history.sqlite"
    store_run(path, "night-1", "2026-01-01T02:00:00Z", seed=1)
    store_run(path, "night-2", "2026-01-02T02:00:00Z", seed=2)
    return path


def test_compare_on_a_file_that_is_not_sqlite(tmp_path: Path, capsys):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database\n" * 200)
    assert main(["compare", "--db", str(junk)]) == 2
    assert f"{junk} is not a readable brixcheck results history" in _one_sentence(capsys)


def test_compare_on_a_truncated_history(history: Path, capsys):
    data = history.read_bytes()
    history.write_bytes(data[: len(data) // 3])
    assert main(["compare", "--db", str(history)]) == 2
    assert f"{history} is not a readable brixcheck results history" in _one_sentence(capsys)


def test_compare_on_a_missing_db_creates_nothing(tmp_path: Path, capsys):
    nope = tmp_path / "nope.db"
    assert main(["compare", "--db", str(nope)]) == 2
    assert "there is no results history" in _one_sentence(capsys)
    assert not nope.exists()


def test_compare_trend_to_unwritable_path_fails_before_comparing(history: Path, tmp_path: Path,
                                                                 capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["compare", "--db", str(history), "--trend", str(blocker / "t.png")]) == 2
    assert "cannot be written" in _one_sentence(capsys)
    assert capsys.readouterr().out == ""  # no comparison was printed


def test_compare_alpha_outside_zero_one(history: Path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["compare", "--db", str(history), "--alpha", "5"])
    assert info.value.code == 2
    assert "5 is not between 0 and 1" in capsys.readouterr().err


def test_compare_lists_stored_runs(history: Path, capsys):
    assert main(["compare", "--db", str(history), "--list"]) == 0
    out = capsys.readouterr().out
    assert "2 runs in" in out
    assert "night-1" in out
    assert "night-2" in out


SCENARIO = """id: ok
description: fine
strategies: [baseline]
workload: {model: m}
load: {rate_per_s: 1}
"""


def test_scenario_shows_every_mistake_with_its_path(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("id: Bad_Id\ndescription: x\nstrategies: [baseline]\n"
                    "workload: {model: m, prompt_words: -1}\nlode: {rate_per_s: 1}\n")
    with pytest.raises(BrixcheckError) as info:
        load_scenario(path)
    text = str(info.value)
    assert "3 mistake(s)" in text
    assert "id: String should match pattern" in text
    assert "workload.prompt_words: Input should be greater than 0" in text
    assert "lode: unknown key (did you mean load?)" in text
    assert "Field required" not in text


def test_scenario_strategy_must_be_registered_by_aibrix(tmp_path: Path):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.replace("[baseline]", "[baseline, least-reqest]"))
    with pytest.raises(BrixcheckError) as info:
        load_scenario(path)
    assert "'least-reqest' is not a routing strategy of AIBrix v0.5.0" in str(info.value)
    assert "least-request" in str(info.value)


def test_one_bad_scenario_file_does_not_hide_the_others(tmp_path: Path):
    (tmp_path / "a.yaml").write_text(SCENARIO)
    (tmp_path / "b.yaml").write_text("id: [\n")
    (tmp_path / "c.yaml").write_text(SCENARIO.replace("id: ok", "id: ok2"))
    good, bad = discover_all(tmp_path)
    assert [s.id for s in good] == ["ok", "ok2"]
    assert list(bad) == ["b.yaml"]
    assert str(tmp_path / "b.yaml") in bad["b.yaml"]


def _api_error(body: bytes) -> ApiError:
    with pytest.raises(ApiError) as info:
        parse_generation("chat", body)
    return info.value


def test_emulator_refuses_deeply_nested_json():
    error = _api_error(b"[" * 100_000)
    assert error.status == 400
    assert "JSON decode error" in error.message


def test_emulator_refuses_a_temperature_that_is_not_a_number():
    body = {"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}
    error = _api_error(json.dumps(body).encode())
    assert error.status == 400
    assert "'temperature'" in error.message


def test_emulator_refuses_null_user_content():
    body = {"messages": [{"role": "user", "content": None}]}
    error = _api_error(json.dumps(body).encode())
    assert error.status == 400
    assert "messages.0.content" in error.message


def test_emulator_accepts_null_assistant_content_and_numeric_strings():
    body = {"messages": [{"role": "assistant", "content": None},
                         {"role": "user", "content": "hi"}], "temperature": "0.5"}
    assert parse_generation("chat", json.dumps(body).encode()).prompt_text
