"""The twin's Envoy routes like AIBrix v0.5.0's Envoy Gateway data plane, without the plugin.

What is asserted: the rendered bootstrap passes ``envoy --mode validate``; a request carrying
``model: <m>`` and no ``routing-strategy`` takes the per-model route straight to an emulated engine
and streams back (the first token reaches the client before the engine wrote its last one, on the
engine's CLOCK_MONOTONIC ground truth); rewriting the endpoint files moves traffic to another
engine with the same Envoy PID; with no ext_proc server, routes that enable ext_proc fail closed
with 500 (``failure_mode_allow: false``), which the ext_proc counters confirm; an unknown path is
404; with ext_proc made fail-open in a test-only copy of the bootstrap, ``original_route`` sends a
request to whatever ``target-pod`` names (the ORIGINAL_DST path the plugin will drive).
The engine that served a request is identified by the emulator's ground truth, not by timing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.twin.envoy import (
    EnvoyProcess,
    render_bootstrap,
    render_inlined_bootstrap,
    validate_config,
    write_model_endpoints,
)
from brixcheck.twin.envoy_xds import Endpoint, Ports
from brixcheck.twin.proc import TwinProcessError
from tests.integration.conftest import MODEL, free_port
from tests.integration.twin_dataplane.conftest import publish

pytestmark = pytest.mark.integration

GROUND_TRUTH = {"x-brixcheck-ground-truth": "1"}
TRUTH_MARK = ": brixcheck-ground-truth "


def _chat(max_tokens: int = 4) -> dict[str, object]:
    return {"model": MODEL, "max_tokens": max_tokens, "ignore_eos": True,
            "messages": [{"role": "user", "content": "route me"}]}


def _serving_engine(envoy: EnvoyProcess) -> str:
    response = httpx.post(f"{envoy.url}/v1/chat/completions", json=_chat(),
                          headers={aibrix.HEADER_MODEL: MODEL, **GROUND_TRUTH}, trust_env=False)
    assert response.status_code == 200, response.text
    return response.json()["brixcheck_ground_truth"]["engine"]


def _engine_name(endpoint: Endpoint) -> str:
    truth = httpx.post(f"http://{endpoint[0]}:{endpoint[1]}/v1/chat/completions",
                       json=_chat(), headers=GROUND_TRUTH, trust_env=False).json()
    return truth["brixcheck_ground_truth"]["engine"]


def test_envoy_bootstrap_validates(tmp_path: Path):
    write_model_endpoints(tmp_path / "xds", {MODEL: [("127.0.3.9", 8000)], "other": []})
    bootstrap = tmp_path / "bootstrap.json"
    bootstrap.write_text(json.dumps(render_bootstrap(tmp_path / "xds")))
    validate_config(bootstrap)


def test_envoy_bootstrap_with_inlined_routes_and_clusters_validates(tmp_path: Path):
    write_model_endpoints(tmp_path / "xds", {MODEL: [("127.0.3.9", 8000)], "other": []})
    bootstrap = tmp_path / "inlined.json"
    bootstrap.write_text(json.dumps(render_inlined_bootstrap(tmp_path / "xds")))
    validate_config(bootstrap)


def test_envoy_validate_rejects_a_broken_bootstrap(tmp_path: Path):
    write_model_endpoints(tmp_path / "xds", {})
    document = render_bootstrap(tmp_path / "xds")
    document["static_resources"]["clusters"][0]["type"] = "NOT_A_TYPE"
    bootstrap = tmp_path / "bootstrap.json"
    bootstrap.write_text(json.dumps(document))
    with pytest.raises(TwinProcessError, match="envoy rejects"):
        validate_config(bootstrap)


def test_envoy_streams_model_header_request_to_engine(envoy: EnvoyProcess, engines):
    publish(envoy, {MODEL: [engines[0]]})
    body = {**_chat(max_tokens=24), "stream": True}
    arrivals: list[float] = []
    text = ""
    with httpx.stream("POST", f"{envoy.url}/v1/chat/completions", json=body, trust_env=False,
                      headers={aibrix.HEADER_MODEL: MODEL, **GROUND_TRUTH}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for chunk in response.iter_text():
            arrivals.extend(time.monotonic() for _ in range(chunk.count('"content"')))
            text += chunk
    assert "data: [DONE]" in text
    truth = json.loads(text[text.index(TRUTH_MARK) + len(TRUTH_MARK):].splitlines()[0])
    assert truth["engine"] == _engine_name(engines[0])
    assert arrivals[0] < truth["token_written_s"][-1], "Envoy buffered the stream"


def test_envoy_endpoint_update_moves_traffic_without_restart(envoy: EnvoyProcess, engines):
    publish(envoy, {MODEL: [engines[0]]})
    pid = envoy.pid
    assert _serving_engine(envoy) == _engine_name(engines[0])
    publish(envoy, {MODEL: [engines[1]]})
    assert _serving_engine(envoy) == _engine_name(engines[1])
    assert envoy.pid == pid


def test_envoy_model_without_ready_pods_gets_503(envoy: EnvoyProcess):
    publish(envoy, {MODEL: []})
    response = httpx.post(f"{envoy.url}/v1/chat/completions", json=_chat(),
                          headers={aibrix.HEADER_MODEL: MODEL}, trust_env=False)
    assert response.status_code == 503
    assert response.text == "no healthy upstream"


@pytest.mark.parametrize(("path", "headers"), [
    ("/v1/chat/completions", {aibrix.HEADER_ROUTING_STRATEGY: "random"}),
    ("/anything/else", {aibrix.HEADER_ROUTING_STRATEGY: ""}),
    ("/v1/completions", {}),
], ids=["routing-strategy", "routing-strategy-empty-any-path", "reserved-route"])
def test_envoy_fails_closed_without_ext_proc(envoy: EnvoyProcess, path: str,
                                             headers: dict[str, str],
                                             record_testsuite_property,
                                             request: pytest.FixtureRequest):
    before = envoy.counters(r"ext_proc\.streams_failed$")
    response = httpx.post(f"{envoy.url}{path}", json=_chat(), headers=headers, trust_env=False)
    after = envoy.counters(r"ext_proc\.streams_failed$")
    record_testsuite_property(f"envoy_status_without_ext_proc[{request.node.callspec.id}]",
                              response.status_code)
    assert response.status_code == 500
    assert sum(after.values()) == sum(before.values()) + 1


def test_envoy_unknown_path_gets_404(envoy: EnvoyProcess):
    response = httpx.get(f"{envoy.url}/no/such/path", trust_env=False)
    assert response.status_code == 404


def test_envoy_route_prefix_matches_whole_path_segments(envoy: EnvoyProcess, engines):
    publish(envoy, {MODEL: [engines[0]]})
    response = httpx.post(f"{envoy.url}/v1/embeddingsx", json=_chat(),
                          headers={aibrix.HEADER_MODEL: MODEL}, trust_env=False)
    assert response.status_code == 404, "prefixes match whole path segments, as in EG"


def test_envoy_original_dst_follows_target_pod_when_ext_proc_fails_open(tmp_path: Path, engines):
    # Test-only change: failure_mode_allow true lets the request pass the absent plugin, so the
    # ORIGINAL_DST plumbing that the plugin's target-pod header drives can be checked on its own.
    ports = Ports(free_port(), free_port(), free_port(), free_port())
    with EnvoyProcess(tmp_path, ports, concurrency=1) as envoy:
        envoy.write_config()
        document = json.loads(envoy.bootstrap.read_text())
        hcm = document["static_resources"]["listeners"][0]["default_filter_chain"]["filters"][0]
        hcm["typed_config"]["http_filters"][0]["typed_config"]["failure_mode_allow"] = True
        envoy.bootstrap.write_text(json.dumps(document))
        envoy.launch()
        for engine in engines:
            headers = {aibrix.HEADER_ROUTING_STRATEGY: "random",
                       aibrix.HEADER_TARGET_POD: f"{engine[0]}:{engine[1]}", **GROUND_TRUTH}
            response = httpx.post(f"{envoy.url}/v1/chat/completions", json=_chat(),
                                  headers=headers, trust_env=False)
            assert response.status_code == 200, response.text
            assert response.json()["brixcheck_ground_truth"]["engine"] == _engine_name(engine)
        assert sum(envoy.counters(r"ext_proc\.failure_mode_allowed$").values()) == len(engines)
