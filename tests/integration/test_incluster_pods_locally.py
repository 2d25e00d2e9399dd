"""The rendered in-cluster pods, run as local processes: the ConfigMap's code laid out as the
volume does, the Jobs' own command and args (no pip install), master host set to loopback.
Records come back only through the workers' framed stdout, as they would from pod logs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from brixcheck.bench.incluster import LoadgenSpec, render
from brixcheck.bench.incluster_run import _write
from brixcheck.bench.scenario import Load, Scenario, Workload
from brixcheck.load.framing import unframe
from brixcheck.load.records import read_records
from brixcheck.load.schedule import Arrival, arrival_offsets
from tests.integration.conftest import MODEL, EngineHostHandle, free_port


def test_rendered_pods_run_and_their_logs_carry_every_record(engine_host: EngineHostHandle,
                                                             tmp_path: Path):
    url = engine_host.start("incluster")
    scenario = Scenario(id="pods", description="d", strategies=["baseline"],
                        workload=Workload(model=MODEL, output_tokens=4, seed=2),
                        load=Load(rate_per_s=4, duration_s=2, warmup_s=0, processes=2))
    spec = LoadgenSpec(scenario, "baseline", url, "local", "ns", "bc-load-local", install=False)
    objects = {(o["kind"], o["metadata"].get("labels", {}).get("brixcheck.io/loadgen-role")): o
               for o in render(spec)}
    volume = tmp_path / "brixcheck"
    pod = objects[("Job", "master")]["spec"]["template"]["spec"]
    for item in pod["volumes"][0]["configMap"]["items"]:
        (volume / item["path"]).parent.mkdir(parents=True, exist_ok=True)
        (volume / item["path"]).write_text(objects[("ConfigMap", None)]["data"][item["key"]])
    # The pods' records directory (/tmp/records) is this test's own.
    run_file = next(volume.rglob("run.json"))
    run = json.loads(run_file.read_text())
    run_file.write_text(json.dumps({**run, "records_dir": str(tmp_path / "pod-records")}))
    port = free_port()

    def command(role: str) -> list[str]:
        container = objects[("Job", role)]["spec"]["template"]["spec"]["containers"][0]
        shell, flag, script, dashes = container["command"]
        argv = [a.replace("bc-load-local-master", "127.0.0.1").replace("5557", str(port))
                .replace("/brixcheck/", f"{volume}/") for a in container["args"]]
        return [shell, flag, script.replace("/brixcheck", str(volume)), dashes, *argv]

    # `python` in the pods' command: this interpreter, with only the shipped code importable.
    env = {"PYTHONPATH": str(volume), "PYTHONUNBUFFERED": "1",
           "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    master_cmd = [*command("master"), "--master-bind-port", str(port)]
    master = subprocess.Popen(master_cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    workers = [subprocess.Popen(command("worker"), cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(2)]
    try:
        logs = [w.communicate(timeout=60)[0] for w in workers]
        master_log = master.communicate(timeout=30)[0]
    finally:
        for proc in (master, *workers):
            if proc.poll() is None:
                proc.kill()
    assert master.returncode == 0, master_log[-2000:]
    shares = [s for log in logs for s in unframe(log)]
    assert sorted(s.worker for s in shares) == [0, 1]
    out = tmp_path / "records"
    out.mkdir()
    _write(out, spec, shares)
    records = [r for f in out.glob("*.jsonl") for r in read_records(f)]
    scheduled = len(arrival_offsets(4, 2, Arrival.POISSON, seed=2))
    assert sorted(int(r["request_id"].split("-")[1]) for r in records) == list(range(scheduled))
    assert all(r["status"] == 200 for r in records)
