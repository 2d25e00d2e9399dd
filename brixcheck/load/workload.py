"""Request bodies for synthetic workloads, built before the run (nothing costly on the hot path).

Prompts are seeded word sequences of a fixed length; output length is fixed with `max_tokens`
plus `ignore_eos` (vLLM extension) so every tool and strategy does the same work.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

_WORDS = ("alpha", "beta", "gamma", "delta", "cache", "route", "token", "model", "batch", "pod",
          "node", "queue", "prefix", "stream", "gateway", "engine", "kernel", "memory")


@dataclass(frozen=True)
class ChatWorkload:
    """Fixed-shape streaming chat requests."""

    model: str
    prompt_words: int
    output_tokens: int
    seed: int = 0
    continuous_usage: bool = True
    prefix_groups: int = 0
    prefix_words: int = 0

    def prompt(self, index: int) -> str:
        """Request `index`'s prompt: its group's shared prefix (if any) then its own words."""
        rng = random.Random(self.seed * 1_000_003 + index)
        words = [rng.choice(_WORDS) for _ in range(self.prompt_words)]
        if self.prefix_groups and self.prefix_words:
            group = random.Random(self.seed * 7_919 + index % self.prefix_groups)
            words = [f"g{index % self.prefix_groups}"] + \
                [group.choice(_WORDS) for _ in range(self.prefix_words)] + words
        return " ".join(words)

    def body(self, index: int) -> bytes:
        """The JSON body of request `index` (deterministic)."""
        prompt = self.prompt(index)
        return json.dumps({
            "model": self.model, "stream": True, "max_tokens": self.output_tokens,
            "ignore_eos": True, "messages": [{"role": "user", "content": prompt}],
            "stream_options": {"include_usage": True,
                               "continuous_usage_stats": self.continuous_usage},
        }).encode()
