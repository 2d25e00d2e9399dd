"""Redis and the AIBrix metadata service run as real programs on loopback.

What is asserted: Debian's redis-server starts without persistence, answers PING, and stops on
SIGTERM with exit code 0, after which nothing answers; the aibrix==0.5.0 metadata service starts
against that Redis, and a user written with ``/CreateUser`` reads back with ``/ReadUser`` and is
stored under the key the gateway reads (``aibrix-users/<name>``); Envoy's metadata route reaches
the service, where ``/v1/models/`` lists and ``/v1/models`` is the service's own 404 (the known
v0.5.0 ``redirect_slashes=False`` bug). Missing programs skip with the make target that installs
them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.twin.envoy import EnvoyProcess
from brixcheck.twin.proc import TwinProcessError
from brixcheck.twin.services import (
    MetadataService,
    RedisServer,
    find_metadata_entry,
    find_redis_server,
    redis_get,
    redis_pings,
)
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration


def _require(find, target: str) -> None:
    try:
        find()
    except TwinProcessError as exc:
        pytest.skip(f"{exc.message}; run `make {target}`")


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    _require(find_redis_server, "twin-deps")
    server = RedisServer(tmp_path / "redis", free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()


def test_redis_starts_answers_ping_and_stops(redis: RedisServer):
    assert redis_pings(redis.port)
    assert not any((redis.work_dir).glob("*.rdb"))
    assert redis.stop() == 0
    assert not redis_pings(redis.port)


def test_metadata_service_user_round_trip(redis: RedisServer, tmp_path: Path):
    _require(find_metadata_entry, "twin-metadata")
    user = {"name": "brixcheck-user", "rpm": 7, "tpm": 700}
    with MetadataService(tmp_path / "metadata", redis.port, free_port()) as service:
        service.start()
        created = httpx.post(f"{service.url}/CreateUser", json=user, trust_env=False)
        read = httpx.post(f"{service.url}/ReadUser", json={"name": user["name"]},
                          trust_env=False)
        missing = httpx.post(f"{service.url}/ReadUser", json={"name": "nobody"},
                             trust_env=False)
    assert created.status_code == 200, created.text
    assert read.json()["user"] == user
    assert missing.status_code == 404
    stored = redis_get(redis.port, aibrix.USER_KEY_PREFIX + user["name"])
    assert stored is not None
    assert json.loads(stored) == user


def test_metadata_route_reaches_the_metadata_service(redis: RedisServer, envoy: EnvoyProcess,
                                                     tmp_path: Path):
    _require(find_metadata_entry, "twin-metadata")
    with MetadataService(tmp_path / "metadata", redis.port, envoy.ports.metadata) as service:
        service.start()
        listed = httpx.get(f"{envoy.url}/v1/models/", trust_env=False)
        no_slash = httpx.get(f"{envoy.url}/v1/models", trust_env=False)
    assert listed.status_code == 200, listed.text
    assert listed.json()["object"] == "list"
    # Known v0.5.0 bug (aibrix-v0.5.0 §8): the metadata app has redirect_slashes=False.
    assert no_slash.status_code == 404
    assert no_slash.headers.get("server") == "uvicorn", "the 404 must come from the service"
