"""A NOT-SUPPORTED skip is written by one function and read back by its partner, and the
capability gate names what needs the missing capability and why the target lacks it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from brixcheck.conformance.model import Capability
from brixcheck.conformance.plugin import not_supported, not_supported_reason, require_capabilities


@dataclass
class _Target:
    capabilities: set[Capability] = field(default_factory=set)

    def describe_missing(self, missing: list[str]) -> str:
        return f"no {', '.join(missing)} here"


def _skip_reason(call) -> str:
    with pytest.raises(pytest.skip.Exception) as skipped:
        call()
    return f"Skipped: {skipped.value.msg}"  # as the report's longrepr carries it


def test_what_not_supported_writes_its_reader_takes_back():
    reason = _skip_reason(lambda: not_supported("the twin runs no containers"))
    assert not_supported_reason(reason) == "the twin runs no containers"
    assert not_supported_reason("Skipped: scenario model m is not the deployed n") is None


def test_the_gate_names_the_need_and_the_missing_capability():
    target = _Target({Capability.KUBERNETES_API})
    require_capabilities(target, [Capability.KUBERNETES_API])  # present: no skip
    reason = _skip_reason(lambda: require_capabilities(
        target, [Capability.CONTAINER_RUNTIME], "in-cluster load needs pods that run containers"))
    assert not_supported_reason(reason) == \
        "in-cluster load needs pods that run containers (no ContainerRuntime here)"
    default = _skip_reason(lambda: require_capabilities(target, [Capability.AIBRIX_GATEWAY]))
    assert not_supported_reason(default) == "the target lacks AIBrixGateway (no AIBrixGateway here)"
