"""Install failure messages name the object and the remedy (no cluster needed)."""

from __future__ import annotations

from types import SimpleNamespace

from kubernetes.client.rest import ApiException

from brixcheck.installer.install import apply_error, pod_reason

CRD = {"kind": "CustomResourceDefinition", "metadata": {"name": "kvcaches.orchestration.aibrix.ai"}}


def _exc(status: int, body: str) -> ApiException:
    exc = ApiException(status=status, reason="Refused")
    exc.body = body
    return exc


def test_annotation_too_long_points_at_server_side_apply():
    error = apply_error(CRD, _exc(422, 'metadata.annotations: Too long: must have at most '
                                       '262144 bytes'))
    assert "CustomResourceDefinition kvcaches.orchestration.aibrix.ai" in error.message
    assert "--server-side" in error.remedy


def test_conflict_names_the_other_manager():
    error = apply_error(CRD, _exc(409, "conflict with \"k3s\""))
    assert "another field manager" in error.message
    assert "K3s" in error.remedy


def _pod(phase="Running", node="n", statuses=()):
    return SimpleNamespace(
        metadata=SimpleNamespace(name="p", namespace="aibrix-system"),
        spec=SimpleNamespace(node_name=node),
        status=SimpleNamespace(phase=phase, container_statuses=list(statuses)))


def _waiting(reason, message=""):
    return SimpleNamespace(image="img", name="c", ready=False, restart_count=3,
                           state=SimpleNamespace(waiting=SimpleNamespace(reason=reason,
                                                                         message=message)))


class _Core:
    def list_namespaced_event(self, namespace, field_selector):
        event = SimpleNamespace(reason="FailedScheduling",
                                message="0/1 nodes are available: 1 Insufficient memory.")
        return SimpleNamespace(items=[event])


def test_pending_pod_quotes_the_scheduler():
    reason = pod_reason(_Core(), _pod(phase="Pending", node=None))
    assert "Insufficient memory" in reason
    assert "--aibrix-small" in reason


def test_image_pull_and_crash_are_told_apart():
    assert "cannot pull img" in pod_reason(_Core(), _pod(statuses=[_waiting("ErrImagePull")]))
    assert "--previous" in pod_reason(_Core(), _pod(statuses=[_waiting("CrashLoopBackOff")]))
