"""The emulator's `--kv-transfer-config` and its NixlConnector request rules (vLLM v0.11)."""

from __future__ import annotations

import json

import pytest

from brixcheck.engine.args import ArgsError, parse_engine_args
from brixcheck.engine.kv_connector import NixlConnector, parse_kv_transfer_config
from tests.unit.engine.vtime import make_scheduler, make_seq, run, ttft

NIXL = '{"kv_connector":"NixlConnector","kv_role":"kv_both"}'
PREFILL_ASK = {"do_remote_decode": True, "do_remote_prefill": False, "remote_engine_id": None,
               "remote_block_ids": None, "remote_host": None, "remote_port": None}


def _connector() -> NixlConnector:
    return NixlConnector(parse_kv_transfer_config(NIXL), seed=0, address="127.0.1.2:8000")


def test_kv_transfer_config_flag_parses_connector_and_role():
    args = parse_engine_args(["--model", "m", "--kv-transfer-config", NIXL])
    assert args.kv_transfer is not None
    assert (args.kv_transfer.connector, args.kv_transfer.role) == ("NixlConnector", "kv_both")


def test_engine_without_the_flag_has_no_kv_transfer():
    assert parse_engine_args(["--model", "m"]).kv_transfer is None


@pytest.mark.parametrize(("value", "says"), [
    ("nixl", "must be a JSON object"),
    ("[1]", "must be a JSON object"),
    ('{"kv_role":"kv_both"}', "needs kv_connector"),
    ('{"kv_connector":"NixlConnector"}', "Please specify kv_role"),
    ('{"kv_connector":"NixlConnector","kv_role":"both"}', "Unsupported kv_role: both"),
    ('{"kv_connector":"Mystery","kv_role":"kv_both"}', "'Mystery' is not emulated"),
    ('{"kv_connector":"NixlConnector","kv_role":"kv_both","colour":1}', "unknown fields"),
])
def test_kv_transfer_config_garbage_is_refused_in_one_line(value: str, says: str):
    with pytest.raises(ArgsError, match=says) as info:
        parse_engine_args(["--model", "m", "--kv-transfer-config", value])
    assert str(info.value).startswith("api_server.py: error: ")
    assert "\n" not in str(info.value)


def test_prefill_answer_carries_nixl_params_for_a_length_capped_remote_decode():
    params = _connector().finished_params(PREFILL_ASK, "length", [4, 5, 6])
    assert params is not None
    assert set(params) == {"do_remote_prefill", "do_remote_decode", "remote_block_ids",
                           "remote_engine_id", "remote_host", "remote_port", "tp_size"}
    assert params["do_remote_prefill"] is True
    assert params["do_remote_decode"] is False
    assert params["remote_block_ids"] == [4, 5, 6]
    assert params["remote_engine_id"] == _connector().engine_id  # seeded: stable per engine
    json.dumps(params)


@pytest.mark.parametrize(("params", "reason"), [
    (None, "length"),                       # no kv_transfer_params in the request
    ({"do_remote_decode": False}, "length"),
    (PREFILL_ASK, "stop"),                  # stopped before the cap: vLLM offers no blocks
    ({"do_remote_prefill": True, "do_remote_decode": True}, "length"),
])
def test_other_answers_carry_null_kv_transfer_params(params, reason):
    assert _connector().finished_params(params, reason, [1]) is None


def test_engines_get_distinct_engine_ids_unless_configured():
    config = parse_kv_transfer_config(NIXL)
    ids = {NixlConnector(config, 0, f"127.0.1.{i}:8000").engine_id for i in range(3)}
    assert len(ids) == 3
    fixed = parse_kv_transfer_config(NIXL[:-1] + ',"engine_id":"e1"}')
    assert NixlConnector(fixed, 0, "x").engine_id == "e1"


def test_decode_side_needs_the_prefill_engines_params():
    answer = _connector().finished_params(PREFILL_ASK, "length", [1, 2])
    assert NixlConnector.loads_remote_prefill(answer)
    assert not NixlConnector.loads_remote_prefill(None)
    assert not NixlConnector.loads_remote_prefill(PREFILL_ASK)
    assert not NixlConnector.loads_remote_prefill({**answer, "remote_block_ids": []})
    assert not NixlConnector.loads_remote_prefill({**answer, "remote_port": None})


def test_remote_prefilled_sequence_skips_the_prompt_cost():
    prompt = list(range(1, 1601))
    local = make_seq("local", prompt, output=4)
    run(make_scheduler(), [local])
    remote = make_seq("remote", prompt, output=4)
    remote.remote_prefill = True
    scheduler = make_scheduler()
    run(scheduler, [remote])
    decode_step = local.token_times_s[1] - local.token_times_s[0]
    assert ttft(remote) < 2 * decode_step < ttft(local) / 5
    assert remote.num_output == 4
    assert remote.num_cached == 0  # loaded over the connector, not a local prefix-cache hit
    assert scheduler.pool.usage() == 0.0


def test_finished_sequence_keeps_its_block_ids_for_the_connector():
    seq = make_seq("p", list(range(1, 50)), output=1)
    run(make_scheduler(), [seq])
    assert len(seq.finished_block_ids) == 4  # 49 prompt + 1 output token in 16-token blocks
