"""Real twin data-plane programs on loopback (Envoy, Redis, the metadata service) for the tests.

Every program gets free ports and its own temporary directory, and is stopped by PID in the
fixture's ``finally``. Engines come from the shared ``engine_host`` fixture (127.0.3.x).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from brixcheck.twin.envoy import EnvoyProcess
from brixcheck.twin.envoy_xds import Endpoint, Ports
from tests.integration.conftest import EngineHostHandle, free_port, poll

UPDATE_TIMEOUT_S = 5.0


def endpoint_of(url: str) -> Endpoint:
    """Return (ip, port) of an engine base URL such as ``http://127.0.3.1:8000``."""
    host, _, port = url.removeprefix("http://").rpartition(":")
    return host, int(port)


def publish(envoy: EnvoyProcess, endpoints: dict[str, list[Endpoint]]) -> None:
    """Write new model endpoints and wait until Envoy's clusters hold exactly them."""
    envoy.update_endpoints(endpoints)
    for model, expected in endpoints.items():
        poll(lambda m=model, e=set(expected): envoy.cluster_endpoints(f"model-{m}") == e,
             UPDATE_TIMEOUT_S, f"Envoy to load the endpoints of {model}")


@pytest.fixture(scope="module")
def envoy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnvoyProcess]:
    """One Envoy with free ports; nothing listens on its ext_proc or metadata port."""
    ports = Ports(listener=free_port(), admin=free_port(), gateway_plugins=free_port(),
                  metadata=free_port())
    proxy = EnvoyProcess(tmp_path_factory.mktemp("envoy"), ports, concurrency=1)
    try:
        proxy.start()
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture(scope="module")
def engines(engine_host: EngineHostHandle) -> tuple[Endpoint, Endpoint]:
    """Two ready emulated engines of the shared test model."""
    return (endpoint_of(engine_host.start("dataplane-a")),
            endpoint_of(engine_host.start("dataplane-b")))
