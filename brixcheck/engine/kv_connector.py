"""The emulator's P/D KV connector: vLLM's `--kv-transfer-config` with NixlConnector semantics.

vLLM v0.11 (vllm/config/kv_transfer.py) takes the flag as a JSON KVTransferConfig: a connector
needs a role (kv_producer, kv_consumer or kv_both) and gets a random engine id when none is
given. With NixlConnector (vllm/distributed/kv_transfer/kv_connector/v1/nixl_connector.py) a
request's `kv_transfer_params` decides what happens:

- `do_remote_decode: true` (the prefill side): the request runs as usual (the router caps it at
  one token); when it finishes length-capped its answer carries the params a decode engine needs
  to pull the KV blocks: do_remote_prefill, do_remote_decode, remote_block_ids,
  remote_engine_id, remote_host, remote_port, tp_size. Otherwise the answer's field is null.
- `do_remote_prefill: true` with remote_block_ids, remote_engine_id, remote_host and
  remote_port (the decode side): the prompt's KV is read from the prefill engine instead of
  computed; as vLLM's scheduler does, only the last prompt token is computed locally, so the
  first token costs one step, not a prefill.

This module holds only those rules. The transfer itself costs nothing here and the prefill
engine frees its blocks at once (vLLM keeps them until the decode engine has read them); the
NIXL side channel (VLLM_NIXL_SIDE_CHANNEL_HOST/PORT, defaults localhost:5600) is named in the
params but nothing listens on it.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from typing import Any

CONNECTORS = ("NixlConnector",)
ROLES = ("kv_producer", "kv_consumer", "kv_both")
# vLLM's KVTransferConfig fields; the emulator reads connector, role and engine id only.
_FIELDS = frozenset({
    "kv_connector", "engine_id", "kv_buffer_device", "kv_buffer_size", "kv_role", "kv_rank",
    "kv_parallel_size", "kv_ip", "kv_port", "kv_connector_extra_config",
    "kv_connector_module_path", "enable_permute_local_kv"})
SIDE_CHANNEL_HOST = "localhost"  # vLLM's VLLM_NIXL_SIDE_CHANNEL_HOST default
SIDE_CHANNEL_PORT = 5600  # vLLM's VLLM_NIXL_SIDE_CHANNEL_PORT default
_DECODE_NEEDS = ("remote_block_ids", "remote_engine_id", "remote_host", "remote_port")


class KvConfigError(ValueError):
    """A `--kv-transfer-config` value vLLM would refuse; the message says what is wrong."""


@dataclass(frozen=True)
class KvTransferConfig:
    """The parsed `--kv-transfer-config`."""

    connector: str
    role: str
    engine_id: str | None


def parse_kv_transfer_config(text: str) -> KvTransferConfig:
    """Parse the flag's JSON; raise KvConfigError with one sentence when it is unusable."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise KvConfigError(f"--kv-transfer-config must be a JSON object, got {text!r}; pass "
                            'e.g. \'{"kv_connector":"NixlConnector","kv_role":"kv_both"}\'') \
            from None
    if not isinstance(data, dict):
        raise KvConfigError(f"--kv-transfer-config must be a JSON object, got {text!r}")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise KvConfigError(f"--kv-transfer-config has unknown fields {unknown}; KVTransferConfig "
                            f"knows {sorted(_FIELDS)}")
    connector, role = data.get("kv_connector"), data.get("kv_role")
    if role is not None and role not in ROLES:
        raise KvConfigError(f"Unsupported kv_role: {role}. Supported roles are {ROLES}")
    if connector is None:
        raise KvConfigError("--kv-transfer-config needs kv_connector; the emulator implements "
                            f"{', '.join(CONNECTORS)}")
    if role is None:
        raise KvConfigError("Please specify kv_role when kv_connector is set, supported roles "
                            f"are {ROLES}")
    if connector not in CONNECTORS:
        raise KvConfigError(f"kv_connector {connector!r} is not emulated; the emulator "
                            f"implements {', '.join(CONNECTORS)}")
    engine_id = data.get("engine_id")
    return KvTransferConfig(connector, role, None if engine_id is None else str(engine_id))


class NixlConnector:
    """NixlConnector's request rules for one engine."""

    def __init__(self, config: KvTransferConfig, seed: int, address: str) -> None:
        # vLLM draws a uuid4; seeded by engine address here, so runs repeat.
        self.engine_id = config.engine_id or str(uuid.UUID(
            int=random.Random(f"{seed}/{address}").getrandbits(128), version=4))

    @staticmethod
    def loads_remote_prefill(params: dict[str, Any] | None) -> bool:
        """True when the prompt's KV comes from a prefill engine (the decode side)."""
        return bool(params and params.get("do_remote_prefill")
                    and params.get("remote_block_ids")
                    and all(params.get(key) is not None for key in _DECODE_NEEDS))

    def finished_params(self, params: dict[str, Any] | None, finish_reason: str,
                        block_ids: list[int]) -> dict[str, Any] | None:
        """The answer's `kv_transfer_params`: set for a length-capped remote-decode prefill."""
        if not params or params.get("do_remote_prefill") or not params.get("do_remote_decode"):
            return None
        if finish_reason != "length":
            return None
        return {"do_remote_prefill": True, "do_remote_decode": False,
                "remote_block_ids": list(block_ids), "remote_engine_id": self.engine_id,
                "remote_host": SIDE_CHANNEL_HOST, "remote_port": SIDE_CHANNEL_PORT,
                "tp_size": 1}
