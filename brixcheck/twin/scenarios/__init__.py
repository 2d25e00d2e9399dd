"""`brixcheck twin scenario NAME on|off`: turn the seed's troubleshooting cases on the twin on
and off, reversibly, so that `brixcheck doctor` can be seen finding each (tests/twin).

`on` applies a scenario (brixcheck.twin.scenarios.faults) and returns once the fault shows;
`off` restores every node label, annotation and status figure it changed and deletes every
object it created (brixcheck.twin.scenarios.record), then waits until they are gone. Both are
idempotent. Nothing here touches objects the scenario did not create.
"""

from __future__ import annotations

import logging

from kubernetes import client
from kubernetes.client.rest import ApiException

from brixcheck.cluster.kube import OWNER_LABELS, WaitTimeoutError, wait_for
from brixcheck.errors import BrixcheckError
from brixcheck.twin.scenarios.faults import SCENARIOS, FaultScenario
from brixcheck.twin.scenarios.record import NAMESPACE, SCENARIO_LABEL, Recorder, load, undo

log = logging.getLogger(__name__)
NAMESPACE_GONE_S = 120.0

__all__ = ["NAMESPACE", "SCENARIOS", "FaultScenario", "active", "get", "turn_off", "turn_on"]


def get(name: str) -> FaultScenario:
    """The scenario of this name; the error lists the known ones."""
    if name not in SCENARIOS:
        raise BrixcheckError(f"unknown scenario {name!r}",
                             f"choose one of: {', '.join(SCENARIOS)}")
    return SCENARIOS[name]


def _namespace_phase(core: client.CoreV1Api) -> str | None:
    try:
        return str(core.read_namespace(NAMESPACE).status.phase)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def _ensure_namespace(core: client.CoreV1Api) -> None:
    """Create the scenarios' namespace, after a previous one has finished terminating."""
    wait_for(lambda: _namespace_phase(core) != "Terminating", NAMESPACE_GONE_S,
             f"namespace {NAMESPACE} to finish terminating", interval_s=0.3)
    if _namespace_phase(core) is not None:
        return
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=NAMESPACE, labels={**OWNER_LABELS, SCENARIO_LABEL: "all"})))


def active(core: client.CoreV1Api) -> list[str]:
    """Names of the scenarios that are on."""
    try:
        maps = core.list_namespaced_config_map(NAMESPACE, label_selector=SCENARIO_LABEL).items
    except ApiException as exc:
        if exc.status == 404:
            return []
        raise
    return sorted(m.metadata.labels[SCENARIO_LABEL] for m in maps)


def turn_on(api: client.ApiClient, name: str) -> bool:
    """Apply the scenario and wait until it shows; False when it was already on."""
    scenario = get(name)
    core = client.CoreV1Api(api)
    if load(core, name) is not None:
        return False
    _ensure_namespace(core)
    recorder = Recorder(api, name)
    recorder.save()
    try:
        scenario.apply(recorder)
    except WaitTimeoutError as exc:
        raise BrixcheckError(f"scenario {name} did not show: {exc}",
                             f"run `brixcheck twin scenario {name} off` to undo it") from None
    log.info("scenario %s on: %d objects created", name, len(recorder.record.created))
    return True


def turn_off(api: client.ApiClient, name: str) -> bool:
    """Undo the scenario; False when it was not on."""
    get(name)
    core = client.CoreV1Api(api)
    record = load(core, name)
    if record is None:
        return False
    try:
        undo(api, name, record)
    except WaitTimeoutError as exc:
        raise BrixcheckError(f"scenario {name} was not fully undone: {exc}",
                             f"run `brixcheck twin scenario {name} off` again") from None
    if not active(core):
        _delete_namespace(core)
    return True


def _delete_namespace(core: client.CoreV1Api) -> None:
    """Delete the scenarios' namespace and wait until it is gone (a new `on` may follow)."""
    core.delete_namespace(NAMESPACE)
    wait_for(lambda: _namespace_phase(core) is None, NAMESPACE_GONE_S,
             f"namespace {NAMESPACE} to be deleted", interval_s=0.3)
