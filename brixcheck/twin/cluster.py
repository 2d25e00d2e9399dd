"""The twin's control plane: kwokctl's binary runtime with locally built programs, on loopback.

kwokctl writes the PKI and kubeconfig and runs etcd (Debian's), kube-apiserver,
kube-controller-manager, kube-scheduler (built from k8s.io/kubernetes) and the kwok controller as
local processes bound to 127.0.0.1. Nothing is downloaded at run time.

kwok's stages decide pod status. The twin keeps kwok's stock stages, read from the kwok module it
was built from, with one change: pods labelled `model.aibrix.ai/name` get an IP and a started,
not-ready container from kwok, and from then on their status is owned by the pod backer
(`brixcheck.twin.pods`), which runs the engine and the pod's probes as a kubelet would. Pods of
ReplicaSets and Jobs in the AIBrix stack's namespaces start the same way and are owned by the
stack pod backer (`brixcheck.twin.system_pods`), so no stack pod is Ready without a program
behind it (Jobs complete only when their program exits 0). The in-cluster Locust Jobs' pods
(label `brixcheck.io/loadgen-role`) start the same way, in any namespace, and are run by the
loadgen pod backer (`brixcheck.twin.loadgen_pods`); kwok's pod-complete stage leaves them alone.
This module does not know about engines or AIBrix.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from brixcheck.errors import BrixcheckError
from brixcheck.twin.build import (
    bin_dir,
    cache_root,
    kubernetes_component,
    kwok_component,
    module_cache,
)

CLUSTER_NAME = "brixcheck"
MODEL_LABEL = "model.aibrix.ai/name"
LOADGEN_LABEL = "brixcheck.io/loadgen-role"  # the Locust Jobs' pods (manifests/loadgen)
STACK_NAMESPACES = ("aibrix-system", "envoy-gateway-system")
STOCK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)
ETCD_HINT = "install Debian's etcd-server (`make twin-deps`, or apt-get install -y etcd-server)"


@dataclass(frozen=True)
class TwinLayout:
    """Where one twin keeps its files: all under the twin cache, nothing in the checkout."""

    root: Path
    name: str = CLUSTER_NAME

    @classmethod
    def default(cls) -> TwinLayout:
        """The layout under $BRIXCHECK_TWIN_CACHE or ~/.cache/brixcheck/twin."""
        return cls(cache_root())

    @property
    def run_dir(self) -> Path:
        """Per-twin working directory."""
        return self.root / "run" / self.name

    @property
    def kubeconfig(self) -> Path:
        """The kubeconfig users and the suite connect with."""
        return self.run_dir / "kubeconfig"

    @property
    def kwok_workdir(self) -> Path:
        """kwokctl's own work directory (PKI, component logs)."""
        return self.run_dir / "kwok"

    @property
    def logs(self) -> Path:
        """Container logs of model pods."""
        return self.run_dir / "logs"

    @property
    def state_file(self) -> Path:
        """What `twin up` started (PIDs, ports)."""
        return self.run_dir / "state.json"


def _binaries(layout: TwinLayout) -> dict[str, str]:
    k8s = bin_dir(layout.root, kubernetes_component())
    kwok = bin_dir(layout.root, kwok_component())
    etcd = shutil.which("etcd") or "/usr/bin/etcd"
    if not Path(etcd).exists():
        raise BrixcheckError("etcd is not installed", ETCD_HINT)
    return {
        "kubeApiserverBinary": str(k8s / "kube-apiserver"),
        "kubeControllerManagerBinary": str(k8s / "kube-controller-manager"),
        "kubeSchedulerBinary": str(k8s / "kube-scheduler"),
        "kwokControllerBinary": str(kwok / "kwok"),
        "etcdBinary": etcd,
    }


def kwokctl_path(layout: TwinLayout) -> Path:
    """The kwokctl binary the twin was built with."""
    return bin_dir(layout.root, kwok_component()) / "kwokctl"


def _stage_dir(layout: TwinLayout) -> Path:
    kwok = kwok_component()
    module = module_cache(layout.root) / "sigs.k8s.io" / f"kwok@{kwok.version}"
    return module / "kustomize" / "stage"


def _in_stack(operator: str = "In") -> dict:
    return {"key": ".metadata.namespace", "operator": operator, "values": list(STACK_NAMESPACES)}


def stack_pod_start_stage(model_stage: dict) -> dict:
    """The model-pod start stage for the stack's pods (owned by a ReplicaSet or Job)."""
    stage = yaml.safe_load(yaml.safe_dump(model_stage))
    stage["metadata"]["name"] = "brixcheck-stack-pod-start"
    expressions = stage["spec"]["selector"]["matchExpressions"]
    expressions[-1] = _in_stack()
    expressions.append({"key": ".metadata.ownerReferences", "operator": "Exists"})
    return stage


def loadgen_pod_start_stage(model_stage: dict) -> dict:
    """The model-pod start stage for the Locust Jobs' pods, in every namespace."""
    stage = yaml.safe_load(yaml.safe_dump(model_stage))
    stage["metadata"]["name"] = "brixcheck-loadgen-pod-start"
    stage["spec"]["selector"]["matchExpressions"][-1] = _has(LOADGEN_LABEL)
    return stage


def _has(label: str, operator: str = "Exists") -> dict:
    return {"key": f'.metadata.labels["{label}"]', "operator": operator}


def unowned_stack_pod_ready_stage(pod_ready: dict) -> dict:
    """kwok's pod-ready for bare pods in the stack namespaces (test stand-ins), as before."""
    stage = yaml.safe_load(yaml.safe_dump(pod_ready))
    stage["metadata"]["name"] = "brixcheck-unowned-stack-pod-ready"
    stage["spec"]["selector"]["matchExpressions"] += [
        {"key": f'.metadata.labels["{MODEL_LABEL}"]', "operator": "DoesNotExist"},
        _in_stack(), {"key": ".metadata.ownerReferences", "operator": "DoesNotExist"}]
    return stage


def model_pod_start_stage(pod_ready: dict) -> dict:
    """kwok's pod-ready stage, changed to start model pods with their containers not ready."""
    template = pod_ready["spec"]["next"]["statusTemplate"]
    started = template
    for condition in ("Ready", "ContainersReady"):
        started = started.replace(f'status: "True"\n  type: {condition}\n',
                                  f'status: "False"\n  type: {condition}\n')
    started = started.replace("  ready: true\n  restartCount: 0\n  state:\n    running:",
                              "  ready: false\n  started: false\n  restartCount: 0\n  state:\n"
                              "    running:", 1)
    if started.count('"False"') != 2 or "started: false" not in started:
        raise BrixcheckError("kwok's pod-ready stage changed shape; the twin cannot derive its "
                             "model-pod stage", "pin the kwok version in twin/kwok")
    stage = yaml.safe_load(yaml.safe_dump(pod_ready))
    stage["metadata"]["name"] = "brixcheck-model-pod-start"
    stage["spec"]["selector"]["matchExpressions"].append(
        {"key": f'.metadata.labels["{MODEL_LABEL}"]', "operator": "Exists"})
    stage["spec"]["next"]["statusTemplate"] = started
    return stage


NODE_CONDITION_LABEL = "brixcheck.io/node-condition"
_CONDITION_TEMPLATE = """{{ $now := Now }}
{{ $fault := or ( index ( or .metadata.labels dict ) "LABEL" ) "" }}
conditions:
{{ range NodeConditions }}
- lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $now | Quote }}
  type: {{ .type | Quote }}
{{ if and ( eq .type $fault ) ( eq .type "Ready" ) }}
  status: "False"
  reason: "KubeletNotReady"
  message: "brixcheck fault: node not ready"
{{ else if eq .type $fault }}
  status: "True"
  reason: {{ printf "KubeletHas%s" .type | Quote }}
  message: {{ printf "kubelet has %s (brixcheck fault)" .type | Quote }}
{{ else }}
  status: {{ .status | Quote }}
  reason: {{ .reason | Quote }}
  message: {{ .message | Quote }}
{{ end }}
{{ end }}
addresses:
{{ with .status.addresses }}
{{ YAML . 1 }}
{{ else }}
{{ with NodeIP }}
- address: {{ . | Quote }}
  type: InternalIP
{{ end }}
{{ with NodeName }}
- address: {{ . | Quote }}
  type: Hostname
{{ end }}
{{ end }}
{{ with NodePort }}
daemonEndpoints:
  kubeletEndpoint:
    Port: {{ . }}
{{ end }}
""".replace("LABEL", NODE_CONDITION_LABEL)


def node_condition_stages() -> list[dict]:
    """Stages that set (label present) or clear (label gone) a node condition fault.

    Labelling a node `brixcheck.io/node-condition=DiskPressure` makes kwok report that condition
    True while the node stays Ready, as a kubelet past its eviction threshold does (the node
    lifecycle controller then adds the matching taint); `=Ready` makes the node NotReady.
    Removing the label restores kwok's normal conditions. The node's addresses and kubelet
    endpoint are written back unchanged: without them the API server cannot reach the kubelet
    (kwok) and `kubectl logs` fails with "no preferred addresses found".
    """
    node = {"apiGroup": "v1", "kind": "Node"}
    label = f'.metadata.labels["{NODE_CONDITION_LABEL}"]'
    abnormal = ('.status.conditions.[] | select( .type != "Ready" and .status == "True" ) '
                '| .type')
    return [
        {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Stage",
         "metadata": {"name": "brixcheck-node-condition-set"},
         "spec": {"resourceRef": node, "weight": 10000,
                  "selector": {"matchExpressions": [{"key": label, "operator": "Exists"}]},
                  "delay": {"durationMilliseconds": 500},
                  "next": {"statusTemplate": _CONDITION_TEMPLATE}}},
        {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Stage",
         "metadata": {"name": "brixcheck-node-condition-clear"},
         "spec": {"resourceRef": node, "weight": 10000,
                  "selector": {"matchExpressions": [
                      {"key": label, "operator": "DoesNotExist"},
                      {"key": abnormal, "operator": "Exists"}]},
                  "next": {"statusTemplate": _CONDITION_TEMPLATE}}},
    ]


def stages(layout: TwinLayout) -> list[dict]:
    """kwok's stock stages plus the model-pod start stage; pod-ready skips model pods."""
    base = _stage_dir(layout)
    if not base.is_dir():
        raise BrixcheckError(f"kwok's stage files are missing from the twin cache ({base})",
                             "run `brixcheck twin build --force`")
    loaded = [yaml.safe_load((base / rel).read_text()) for rel in STOCK_STAGES]
    pod_ready = next(s for s in loaded if s["metadata"]["name"] == "pod-ready")
    model_stage = model_pod_start_stage(pod_ready)
    unowned_stack = unowned_stack_pod_ready_stage(pod_ready)
    pod_complete = next(s for s in loaded if s["metadata"]["name"] == "pod-complete")
    pod_complete["spec"]["selector"]["matchExpressions"] += [
        _in_stack("NotIn"), _has(LOADGEN_LABEL, "DoesNotExist")]
    pod_ready["spec"]["selector"]["matchExpressions"] += [
        _has(MODEL_LABEL, "DoesNotExist"), _has(LOADGEN_LABEL, "DoesNotExist"),
        _in_stack("NotIn")]
    return [*loaded, model_stage, stack_pod_start_stage(model_stage),
            loadgen_pod_start_stage(model_stage), unowned_stack, *node_condition_stages()]


def kwokctl_config(layout: TwinLayout) -> str:
    """The multi-document kwokctl configuration of the twin."""
    kube_version = kubernetes_component().version
    options = {"runtime": "binary", "kubeVersion": kube_version, "bindAddress": "127.0.0.1",
               "enableCRDs": ["Logs", "PortForward"], **_binaries(layout)}
    plugins = layout.kwok_workdir / "flex-volume-plugins"
    config = {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1", "kind": "KwokctlConfiguration",
        "options": options,
        # The controller manager would otherwise create a plugin dir under /usr/libexec.
        "componentsPatches": [{"name": "kube-controller-manager", "extraArgs": [
            {"key": "flex-volume-plugin-dir", "value": str(plugins)}]}],
    }
    return yaml.safe_dump_all([config, *stages(layout)], sort_keys=False)


def _kwokctl(layout: TwinLayout, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "KWOK_WORKDIR": str(layout.kwok_workdir)}
    cmd = [str(kwokctl_path(layout)), *args]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise BrixcheckError(f"kwokctl {args[0]} {' '.join(args[1:3])} failed: "
                             f"{' | '.join(tail)}", "see `brixcheck twin status` and retry "
                             "`brixcheck twin down` then `brixcheck twin up`")
    return result


def cluster_exists(layout: TwinLayout) -> bool:
    """True when kwokctl knows a cluster of this twin's name."""
    if not kwokctl_path(layout).exists():
        return False
    listed = _kwokctl(layout, "get", "clusters", check=False).stdout.split()
    return layout.name in listed


def create_cluster(layout: TwinLayout) -> None:
    """Create and start the control plane; writes the kubeconfig."""
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    (layout.kwok_workdir / "flex-volume-plugins").mkdir(parents=True, exist_ok=True)
    config = layout.run_dir / "kwokctl.yaml"
    config.write_text(kwokctl_config(layout))
    _kwokctl(layout, "--config", str(config), "create", "cluster", "--name", layout.name,
             "--kubeconfig", str(layout.kubeconfig), "--wait", "2m")


def start_cluster(layout: TwinLayout) -> None:
    """Start the processes of an existing, stopped cluster."""
    _kwokctl(layout, "start", "cluster", "--name", layout.name, "--wait", "2m")


def delete_cluster(layout: TwinLayout) -> None:
    """Stop every control-plane process and remove the cluster's files."""
    if cluster_exists(layout):
        _kwokctl(layout, "delete", "cluster", "--name", layout.name,
                 "--kubeconfig", str(layout.kubeconfig))
