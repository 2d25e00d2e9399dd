"""Users made through AIBrix's real metadata service limit requests through the plugin emulator
behind Envoy, with the real Redis: RPM and TPM rows of v0.5.0's error table, and the usage
headers of an allowed request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from brixcheck.gateway_plugin.loopback import LoopbackGateway, free_port
from brixcheck.twin.proc import TwinProcessError
from brixcheck.twin.services import (
    MetadataService,
    RedisServer,
    find_metadata_entry,
    find_redis_server,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
MODEL = "limit-model"


def _require(find, target: str) -> None:
    try:
        find()
    except TwinProcessError as exc:
        pytest.skip(f"{exc.message}; run `make {target}`")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LoopbackGateway, str]]:
    _require(find_redis_server, "twin-deps")
    _require(find_metadata_entry, "twin-metadata")
    work = Path(tmp_path_factory.mktemp("limits"))
    redis = RedisServer(work / "redis", free_port())
    metadata = MetadataService(work / "metadata", 0, free_port())
    gateway = LoopbackGateway(work / "gw", MODEL, ["127.0.3.5"], redis_port=0)
    try:
        redis.start()
        metadata.redis_port = gateway.redis_port = redis.port
        metadata.start()
        gateway.start()
        yield gateway, metadata.url
    finally:
        gateway.stop()
        metadata.stop()
        redis.stop()


def _user(metadata: str, name: str, rpm: int, tpm: int) -> str:
    reply = httpx.post(f"{metadata}/CreateUser", json={"name": name, "rpm": rpm, "tpm": tpm},
                       trust_env=False)
    assert reply.status_code == 200, reply.text
    return name


def _ask(gateway: LoopbackGateway, user: str) -> httpx.Response:
    return httpx.post(f"{gateway.url}/v1/chat/completions", trust_env=False, timeout=30,
                      headers={"routing-strategy": "random", "user": user},
                      json={"model": MODEL, "max_tokens": 3,
                            "messages": [{"role": "user", "content": "hi"}]})


def test_rpm_limit(stack):
    gateway, metadata = stack
    name = _user(metadata, "rpm-one", 1, 1000)
    assert _ask(gateway, name).status_code == 200
    refused = _ask(gateway, name)
    assert refused.status_code == 429
    assert refused.headers["x-error-rpm-exceeded"] == "true"
    assert refused.json()["error"] == {"code": "rate_limit_exceeded", "param": None,
                                       "message": "user: rpm-one has exceeded RPM: 1",
                                       "type": "rate_limit_error"}


def test_tpm_limit_counts_the_answers_tokens(stack):
    gateway, metadata = stack
    name = _user(metadata, "tpm-one", 100, 1)
    first = _ask(gateway, name)
    assert first.status_code == 200
    refused = _ask(gateway, name)
    assert refused.status_code == 429
    assert refused.headers["x-error-tpm-exceeded"] == "true"
    assert refused.json()["error"]["message"] == "user: tpm-one has exceeded TPM: 1"


def test_unknown_user_is_redis_nil(stack):
    gateway, _ = stack
    reply = _ask(gateway, "nobody-here")
    assert reply.status_code == 500
    assert reply.headers["x-error-user"] == "true"
    assert reply.json()["error"]["message"] == "redis: nil"
