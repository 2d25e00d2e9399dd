"""Small cluster objects for doctor's unit tests, built from the official client's models."""

from __future__ import annotations

import datetime as dt
import itertools

from kubernetes import client

from brixcheck.doctor.findings import Observed
from brixcheck.doctor.gpu_facts import GpuFacts

SEED_ARGS = ["--host", "0.0.0.0", "--port", "8000", "--model",
             "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "--served-model-name", "m",
             "--gpu-memory-utilization", "0.9"]
_uids = itertools.count(1)


def uid() -> str:
    return f"00000000-0000-0000-0000-{next(_uids):012d}"


def node(name: str = "k3s-gpu-0", gpus: int = 1, conditions: dict[str, str] | None = None,
         taints: list[str] = (), cpu: str = "12", memory: str = "32Gi",
         server: bool = True) -> client.V1Node:
    states = {"Ready": "True", "DiskPressure": "False", "MemoryPressure": "False",
              **(conditions or {})}
    labels = {"node-role.kubernetes.io/control-plane": "true"} if server else {}
    return client.V1Node(
        metadata=client.V1ObjectMeta(name=name, uid=uid(), labels=labels, annotations={}),
        spec=client.V1NodeSpec(taints=[client.V1Taint(key=k, effect="NoSchedule")
                                       for k in taints]),
        status=client.V1NodeStatus(
            allocatable={"cpu": cpu, "memory": memory, "nvidia.com/gpu": str(gpus)},
            conditions=[client.V1NodeCondition(type=t, status=s, reason=f"Kubelet{t}",
                                               message="m") for t, s in states.items()]))


def container(name: str = "vllm-openai", args: list[str] | None = None, gpus: int = 1,
              requests: dict[str, str] | None = None,
              startup: client.V1Probe | None = None,
              liveness: client.V1Probe | None = None) -> client.V1Container:
    limits = {"nvidia.com/gpu": str(gpus)} if gpus else None
    return client.V1Container(name=name, image="vllm/vllm-openai:v0.11.0",
                              args=list(SEED_ARGS if args is None else args),
                              resources=client.V1ResourceRequirements(limits=limits,
                                                                      requests=requests),
                              startup_probe=startup, liveness_probe=liveness)


def probe(period: int = 5, threshold: int = 12) -> client.V1Probe:
    return client.V1Probe(http_get=client.V1HTTPGetAction(path="/health", port=8000),
                          period_seconds=period, failure_threshold=threshold)


def deployment(name: str, namespace: str = "default", spec_container=None,
               replicas: int = 1, strategy: str = "RollingUpdate",
               labels: dict[str, str] | None = None) -> client.V1Deployment:
    pod_spec = client.V1PodSpec(containers=[spec_container or container()])
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace, uid=uid(),
                                     labels=labels or {}),
        spec=client.V1DeploymentSpec(
            replicas=replicas, selector=client.V1LabelSelector(match_labels={"app": name}),
            strategy=client.V1DeploymentStrategy(type=strategy),
            template=client.V1PodTemplateSpec(spec=pod_spec)))


def replica_set(owner: client.V1Deployment, name: str) -> client.V1ReplicaSet:
    return client.V1ReplicaSet(metadata=client.V1ObjectMeta(
        name=name, namespace=owner.metadata.namespace, uid=uid(),
        owner_references=[client.V1OwnerReference(api_version="apps/v1", kind="Deployment",
                                                  name=owner.metadata.name,
                                                  uid=owner.metadata.uid)]))


def pod(name: str, namespace: str = "default", phase: str = "Running",
        node_name: str | None = "k3s-gpu-0", owner: client.V1ReplicaSet | None = None,
        spec_container=None, restarts: int = 0, ready: bool = True,
        unschedulable: str = "", reason: str | None = None, message: str | None = None,
        labels: dict[str, str] | None = None) -> client.V1Pod:
    spec_container = spec_container or container()
    owners = None
    if owner is not None:
        owners = [client.V1OwnerReference(api_version="apps/v1", kind="ReplicaSet",
                                          name=owner.metadata.name, uid=owner.metadata.uid)]
    conditions = []
    if unschedulable:
        conditions.append(client.V1PodCondition(type="PodScheduled", status="False",
                                                reason="Unschedulable", message=unschedulable))
        node_name = None
    statuses = None
    if phase == "Running":
        statuses = [client.V1ContainerStatus(
            name=spec_container.name, image=spec_container.image, image_id="",
            ready=ready, restart_count=restarts,
            state=client.V1ContainerState(running=client.V1ContainerStateRunning()))]
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace, uid=uid(),
                                     owner_references=owners, labels=labels or {}),
        spec=client.V1PodSpec(containers=[spec_container], node_name=node_name),
        status=client.V1PodStatus(phase=phase, conditions=conditions,
                                  container_statuses=statuses, reason=reason, message=message))


def event(about: client.V1Pod, reason: str, message: str, seconds: int = 0) -> client.CoreV1Event:
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)
    return client.CoreV1Event(
        metadata=client.V1ObjectMeta(name=f"{about.metadata.name}.{uid()[-6:]}",
                                     namespace=about.metadata.namespace),
        involved_object=client.V1ObjectReference(kind="Pod", name=about.metadata.name,
                                                 namespace=about.metadata.namespace,
                                                 uid=about.metadata.uid),
        reason=reason, message=message, last_timestamp=when)


def service(name: str, namespace: str, labels: dict[str, str] | None = None,
            port: int = 80, ingress_ip: str | None = None) -> client.V1Service:
    ingress = [client.V1LoadBalancerIngress(ip=ingress_ip)] if ingress_ip else None
    return client.V1Service(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels=labels or {}),
        spec=client.V1ServiceSpec(type="LoadBalancer", ports=[client.V1ServicePort(port=port)]),
        status=client.V1ServiceStatus(load_balancer=client.V1LoadBalancerStatus(
            ingress=ingress)))


def observed(nodes=(), pods=(), events=(), services=(), deployments=(), replica_sets=(),
             logs: dict[tuple[str, bool], str] | None = None, gpu: GpuFacts | None = None,
             time_scale: float = 1.0) -> Observed:
    """`logs` maps (pod name, previous) to the log text."""
    table = logs or {}

    def read(namespace: str, name: str, container_name: str, previous: bool) -> str:
        return table.get((name, previous), "")

    return Observed(tuple(nodes), tuple(pods), tuple(events), tuple(services),
                    tuple(deployments), tuple(replica_sets), read, gpu, time_scale)


def model(name: str = "m", namespace: str = "default", spec_container=None, restarts: int = 1,
          strategy: str = "RollingUpdate"):
    """A Deployment, its ReplicaSet and one restarted, not-ready pod."""
    dep = deployment(name, namespace, spec_container, strategy=strategy)
    rs = replica_set(dep, f"{name}-5769d7cb6d")
    the_pod = pod(f"{name}-5769d7cb6d-7btq9", namespace, owner=rs,
                  spec_container=dep.spec.template.spec.containers[0], restarts=restarts,
                  ready=False)
    return dep, rs, the_pod
