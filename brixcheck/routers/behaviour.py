"""Which pod served a request when the router does not say (no `target-pod`): the engines'
own counters. Requests are sent one at a time and the pod whose `vllm:request_success` rose
served it; held streams are located by `vllm:num_requests_running`. Works with real vLLM too.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

from brixcheck.analysis.engine_metrics import RUNNING, metric_name

SUCCESS = "vllm:request_success"


def engine_values(url: str, name: str) -> float:
    """One metric of one engine's /metrics, summed over its series."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(s.value for family in text_string_to_metric_families(text)
               for s in family.samples if metric_name(s.name) == name)


def per_pod(engines: Mapping[str, str], name: str) -> dict[str, float]:
    """The metric of every engine: pod -> value."""
    return {pod: engine_values(url, name) for pod, url in engines.items()}


def chat_body(model: str, prompt: str, max_tokens: int = 4, stream: bool = False) -> dict:
    """An OpenAI chat request that generates exactly `max_tokens` (vLLM's `ignore_eos`), so a
    held stream lasts as long as its length says."""
    return {"model": model, "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens, "stream": stream, "ignore_eos": True}


def served_by(router: str, engines: Mapping[str, str], body: dict) -> str:
    """Send one request through the router and name the pod that completed it.

    Raises:
        RuntimeError: when not exactly one engine's success counter rose, by one.
    """
    before = per_pod(engines, SUCCESS)
    response = httpx.post(f"{router}/v1/chat/completions", json=body, timeout=60)
    response.raise_for_status()
    after = per_pod(engines, SUCCESS)
    rose = [pod for pod in engines if after[pod] - before[pod] == 1]
    if len(rose) != 1 or sum(after.values()) - sum(before.values()) != 1:
        raise RuntimeError(f"cannot attribute the request: success counters went {before} -> "
                           f"{after}")
    return rose[0]


def running(engines: Mapping[str, str]) -> dict[str, int]:
    """Requests running on each engine now."""
    return {pod: int(v) for pod, v in per_pod(engines, RUNNING).items()}
