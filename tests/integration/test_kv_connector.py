"""Two emulated engines with NixlConnector act out vLLM's P/D hand-off over HTTP.

The prefill engine is asked, as AIBrix v0.5.0's pd router asks it, for one token with
`kv_transfer_params.do_remote_decode`; its answer's params go into the decode engine's request,
whose first token then comes without a prefill (measured by the emulator's ground truth).
"""

from __future__ import annotations

import httpx

from tests.integration.conftest import MODEL, EngineHostHandle

NIXL = ["--kv-transfer-config", '{"kv_connector":"NixlConnector","kv_role":"kv_both"}']
PROMPT = " ".join(f"word{i}" for i in range(800))
PREFILL_ASK = {"do_remote_decode": True, "do_remote_prefill": False, "remote_engine_id": None,
               "remote_block_ids": None, "remote_host": None, "remote_port": None}
TRUTH = {"x-brixcheck-ground-truth": "1"}


def _ttft_s(truth: dict) -> float:
    return truth["token_intended_s"][0] - truth["arrival_s"]


def _complete(url: str, **fields: object) -> dict:
    body = {"model": MODEL, "prompt": PROMPT, "max_tokens": 4, "ignore_eos": True, **fields}
    reply = httpx.post(f"{url}/v1/completions", json=body, headers=TRUTH, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_prefill_then_decode_hand_off(engine_host: EngineHostHandle):
    prefill = engine_host.start("kv-prefill", NIXL)
    decode = engine_host.start("kv-decode", NIXL)
    first = _complete(prefill, max_tokens=1, kv_transfer_params=PREFILL_ASK)
    params = first["kv_transfer_params"]
    assert params["do_remote_prefill"] is True
    assert params["remote_block_ids"]
    answer = _complete(decode, kv_transfer_params={**params, "remote_host": "127.0.3.1"})
    assert answer["kv_transfer_params"] is None
    assert answer["usage"]["completion_tokens"] == 4
    cold = _complete(engine_host.start("kv-cold", NIXL))  # same prompt, prefilled locally
    prefilled, handed = _ttft_s(cold["brixcheck_ground_truth"]), \
        _ttft_s(answer["brixcheck_ground_truth"])
    assert handed < prefilled / 5, f"decode TTFT {handed:.4f} s vs prefill {prefilled:.4f} s"


def test_engine_without_connector_answers_null_params(engine_url: str):
    answer = _complete(engine_url, max_tokens=1, kv_transfer_params=PREFILL_ASK)
    assert answer["kv_transfer_params"] is None


def test_non_object_kv_transfer_params_is_400(engine_url: str):
    reply = httpx.post(f"{engine_url}/v1/completions", timeout=10,
                       json={"model": MODEL, "prompt": "x", "kv_transfer_params": "yes"})
    assert reply.status_code == 400
    assert "valid dictionary" in reply.text
