"""In-cluster load: a scenario rendered into Locust Jobs (manifests/loadgen), nothing applied here.

A master Job with its headless Service, a worker Job with one pod per share of the schedule, and
a ConfigMap carrying the locustfile and brixcheck's load package from this checkout (so the pods
run exactly the suite's code) and the run file they all read (brixcheck.load.run_spec). Load then
starts next to the target instead of through a port-forward. Every object carries the suite's
ownership labels and the run id (brixcheck.kube).

Image: a plain public Python image that pip-installs Locust's pinned dependencies when each pod
starts (needs the cluster to reach the package index); with `install=False` the image must
already hold them (for clusters without that egress).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import yaml

from brixcheck.bench.runner import DRAIN_S, RUN_FILE, locust_options, run_spec
from brixcheck.bench.scenario import Scenario
from brixcheck.kube import owned
from brixcheck.load.run_spec import RUN_OPTION
from brixcheck.resources import data_path

# brixcheck/ and locustfiles/ side by side, as in a checkout; installed, the locustfile is data.
SOURCES = Path(__file__).resolve().parents[2]
TEMPLATES = data_path("manifests", "loadgen")
DEFAULT_IMAGE = "python:3.11-slim"
# What the locustfile needs beyond the standard library (as pinned in pyproject.toml).
REQUIREMENTS = ("locust==2.47.0", "geventhttpclient>=2.6,<2.7", "pydantic>=2.7,<3")
# ConfigMap key -> path under the pods' /brixcheck (PYTHONPATH): the locustfile's imports.
CODE = {
    "locustfile.py": "locustfiles/streaming_chat.py",
    "brixcheck.__init__.py": "brixcheck/__init__.py",
    **{f"brixcheck.load.{p.name}": f"brixcheck/load/{p.name}"
       for p in sorted((SOURCES / "brixcheck" / "load").glob("*.py"))},
}
RECORDS_DIR = "/tmp/records"
MOUNT = "/brixcheck"  # where the ConfigMap's code and run file appear in every pod
START_ALLOWANCE_S = 600  # image pull and pip install before the schedule can start


@dataclass(frozen=True)
class LoadgenSpec:
    """What to render: one run of a scenario for a strategy against an in-cluster URL."""

    scenario: Scenario
    strategy: str
    host: str
    run_id: str
    namespace: str
    name: str
    image: str = DEFAULT_IMAGE
    install: bool = True
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def workers(self) -> int:
        """Worker pods: the scenario's process count ('auto' has no meaning off this machine)."""
        if self.scenario.load.processes in ("auto", -1):
            raise ValueError(f"scenario {self.scenario.id}: in-cluster load needs an explicit "
                             "load.processes (worker pods), not 'auto'")
        return int(self.scenario.load.processes)


def _start_command(install: bool) -> list[str]:
    pip = (f"pip install --quiet --no-cache-dir {' '.join(shlex.quote(r) for r in REQUIREMENTS)}"
           " && " if install else "")
    return ["sh", "-c", f'{pip}exec python -m locust -f {MOUNT}/locustfile.py "$@"', "--"]


def _source(path: str) -> Path:
    """A CODE entry's file: the locustfile from the suite's data, the rest from the package."""
    if path.startswith("locustfiles/"):
        return data_path(*path.split("/"))
    return SOURCES / path


def _template(name: str, values: dict[str, object]) -> list[dict[str, Any]]:
    text = Template((TEMPLATES / name).read_text()).substitute(values)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _pod_spec(job: dict[str, Any]) -> dict[str, Any]:
    return job["spec"]["template"]["spec"]


def run_file(spec: LoadgenSpec) -> str:
    """The run file (JSON) every pod reads: records to RECORDS_DIR and, framed, to stdout."""
    return run_spec(spec.scenario, spec.strategy, dict(spec.headers), RECORDS_DIR,
                    spec.workers, records_stdout=True).model_dump_json(indent=2)


def master_args(spec: LoadgenSpec) -> list[str]:
    """The master's Locust arguments; workers receive the run file's path from it."""
    return ["--master", "--headless", "--only-summary", "-H", spec.host,
            "--expect-workers", str(spec.workers),
            "--expect-workers-max-wait", str(START_ALLOWANCE_S), "--exit-code-on-error", "0",
            RUN_OPTION, f"{MOUNT}/{RUN_FILE}", *locust_options(spec.scenario, spec.workers)]


def render(spec: LoadgenSpec) -> list[dict[str, Any]]:
    """The ConfigMap, master Service and Job, and worker Job for one in-cluster run."""
    values = {"name": spec.name, "namespace": spec.namespace, "image": spec.image,
              "workers": spec.workers,
              "deadline_s": int(spec.scenario.load.duration_s + 2 * DRAIN_S + START_ALLOWANCE_S)}
    objects = [*_template("configmap.yaml", values), *_template("master.yaml", values),
               *_template("worker.yaml", values)]
    items = [{"key": key, "path": path.replace("locustfiles/streaming_chat.py", "locustfile.py")}
             for key, path in CODE.items()] + [{"key": RUN_FILE, "path": RUN_FILE}]
    for obj in objects:
        owned(obj, spec.run_id)
        if obj["kind"] == "ConfigMap":
            obj["data"] = {**{key: _source(path).read_text() for key, path in CODE.items()},
                           RUN_FILE: run_file(spec)}
        if obj["kind"] == "Job":
            pod = _pod_spec(obj)
            pod["volumes"][0]["configMap"]["items"] = items
            container = pod["containers"][0]
            container["command"] = _start_command(spec.install)
            if obj["metadata"]["labels"]["brixcheck.io/loadgen-role"] == "master":
                container["args"] = master_args(spec)
    return objects
