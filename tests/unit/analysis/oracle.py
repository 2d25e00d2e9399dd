"""Deterministic records whose metrics are known in closed form (the test oracle)."""

from __future__ import annotations

from typing import Any

TTFT_S = 0.050
GAP_S = 0.010
TOKENS = 11
DONE_AFTER_LAST_S = 0.001


def constant_run(rate_per_s: float = 10.0, duration_s: float = 10.0, strategy: str = "random",
                 pods: tuple[str, ...] = ("pod-a", "pod-b"), start_s: float = 500.0,
                 ) -> list[dict[str, Any]]:
    """Constant arrivals; every request: TTFT 50 ms, 11 tokens 10 ms apart, done 1 ms later."""
    records = []
    for i in range(int(rate_per_s * duration_s)):
        intended = start_s + i / rate_per_s
        first = intended + TTFT_S
        times = [first + k * GAP_S for k in range(TOKENS)]
        records.append({
            "request_id": f"0-{i}", "scenario": "oracle", "strategy": strategy,
            "intended_s": intended, "sent_s": intended + 0.0002, "headers_s": intended + 0.001,
            "status": 200, "error": "", "error_header": "", "target_pod": pods[i % len(pods)],
            "token_times_s": times, "chunk_tokens": [1] * TOKENS,
            "done_s": times[-1] + DONE_AFTER_LAST_S, "prompt_tokens": 100,
            "output_tokens": TOKENS, "cached_tokens": 40})
    return records
