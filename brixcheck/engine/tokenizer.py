"""Deterministic tokenizer and output text for the emulator (no downloads).

Tokens are short word pieces (about four characters, like a BPE vocabulary on English text) and
their ids are CRC32 hashes, so equal text always gives equal ids and prefix caching works on real
prompts. Output text is drawn from a fixed word list by a seeded position hash, so a request's
output depends only on the engine seed, the prompt ids and the position.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

VOCAB_SIZE = 151_936
_PIECE = re.compile(r"<\|[^|\s]{1,20}\|>| ?[A-Za-z]{1,4}| ?\d{1,3}| ?[^\sA-Za-z\d]|\s+")

_WORDS = (
    " the", " of", " and", " to", " in", " a", " is", " that", " for", " it", " as", " with",
    " was", " on", " be", " by", " this", " are", " from", " at", " or", " an", " which", " we",
    " model", " token", " cache", " memory", " GPU", " kernel", " batch", " request", " latency",
    " prefix", " route", " pod", " cluster", " node", " step", " decode", " prefill", " block",
    ",", ".", " so", " then", " thus", " each", " one", " two", " more", " less", " fast", " slow",
)


def tokenize(text: str) -> list[int]:
    """Split `text` into word pieces and return their ids."""
    return [zlib.crc32(p.encode()) % VOCAB_SIZE for p in _PIECE.findall(text)]


def render_chat(messages: Sequence[dict[str, object]]) -> str:
    """Render chat messages with a ChatML-style template and the assistant generation prompt."""
    parts = []
    for message in messages:
        role = message.get("role", "user")
        parts.append(f"<|im_start|>{role}\n{message_text(message)}<|im_end|>\n")
    parts.append("<|im_start|>assistant\n")
    return "".join(parts)


def message_text(message: dict[str, object]) -> str:
    """Return a message's text; list content keeps only its text parts, as vLLM does."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict)
        )
    return ""


def output_piece(seed: int, prompt_hash: int, position: int) -> str:
    """Return the text of output token `position` for a prompt, deterministic per seed."""
    mixed = (prompt_hash * 2_654_435_761 + position * 40_503 + seed * 97) & 0xFFFFFFFF
    return _WORDS[mixed % len(_WORDS)]


def natural_length(seed: int, prompt_hash: int, mean_tokens: int) -> int:
    """Return where generation would stop on its own (EOS) for this prompt: 1..2*mean tokens."""
    mixed = zlib.crc32(f"{seed}:{prompt_hash}".encode())
    return 1 + mixed % (2 * mean_tokens)


def prompt_hash(token_ids: Sequence[int]) -> int:
    """Return a stable 32-bit hash of a prompt's token ids."""
    return zlib.crc32(b"".join(t.to_bytes(4, "little") for t in token_ids))
