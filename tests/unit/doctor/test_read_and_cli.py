"""Doctor's reading: logs that do not exist read as empty, each log is read once."""

from __future__ import annotations

from kubernetes.client.rest import ApiException

from brixcheck.doctor.read import log_reader


class FakeCore:
    """Answers logs from a table; a missing previous log is the API's 400."""

    def __init__(self) -> None:
        self.calls = 0

    def read_namespaced_pod_log(self, name, namespace, container, previous, **_kwargs):
        self.calls += 1
        if previous:
            raise ApiException(status=400, reason="previous terminated container not found")
        return f"log of {namespace}/{name}/{container}"


def test_log_reader_missing_previous_log_reads_empty():
    read = log_reader(FakeCore())
    assert read("ns", "p", "c", True) == ""
    assert read("ns", "p", "c", False) == "log of ns/p/c"


def test_log_reader_reads_each_log_once():
    core = FakeCore()
    read = log_reader(core)
    read("ns", "p", "c", False)
    read("ns", "p", "c", False)
    assert core.calls == 1
