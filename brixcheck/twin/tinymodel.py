"""Create the twin's tiny random-weight model offline (no hub): `python tinymodel.py OUT_DIR`.

Run by the real-engine venv's interpreter (it needs torch, transformers and tokenizers, which
the project venv does not have). The result is a Qwen2ForCausalLM (the architecture of
DeepSeek-R1-Distill-Qwen-1.5B, the seed's model) of two layers, hidden size 128, head size 32
(the CPU attention backend's smallest), a byte-level BPE tokenizer trained on the text below,
with ChatML special tokens and chat template, saved as safetensors. Same inputs, same bytes:
the seed is fixed, so a fresh machine gets the same model. `--check` only verifies a folder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MODEL_VERSION = "1"  # bump when anything below changes; the folder is rebuilt on mismatch
VOCAB_SIZE = 1024
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# Training text for the tokenizer: any fixed text works (byte-level BPE covers every input).
CORPUS = """\
The quick brown fox jumps over the lazy dog. A model pod serves requests on a GPU node.
AIBrix routes each request to one pod of the model: random, least request, throughput,
prefix cache, least KV cache, least latency. The gateway reads every pod's metrics.
vLLM batches requests continuously, caches prompt prefixes in blocks and streams tokens.
Hello, how are you today? Tell me a story about a small robot that learns to count.
Once upon a time there was a cluster with three nodes, and each node had one graphics card.
Kubernetes schedules pods, the kubelet probes them, and the service sends traffic to ready ones.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000 2024 3.14 42. Punctuation: , . ; : ! ? ( ) [ ] { }.
def main(): return 0  # code, JSON {"key": "value"}, and lists [1, 2, 3] appear in prompts.
"""


def train_tokenizer(out: Path) -> None:
    """A byte-level BPE tokenizer with ChatML specials, saved for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tokenizer.train_from_iterator(CORPUS.splitlines() * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", bos_token=None,
                                   model_max_length=131072)
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(str(out))


def save_model(out: Path, vocab_size: int, eos_id: int, pad_id: int) -> None:
    """Random Qwen2 weights (seeded), bf16 safetensors."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=vocab_size, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=32,
        max_position_embeddings=131072, rope_theta=10000.0, tie_word_embeddings=True,
        eos_token_id=eos_id, bos_token_id=eos_id, pad_token_id=pad_id,
        torch_dtype="bfloat16",
    )
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(str(out), safe_serialization=True)
    GenerationConfig(eos_token_id=eos_id, bos_token_id=eos_id,
                     pad_token_id=pad_id).save_pretrained(str(out))


def is_built(out: Path) -> bool:
    """True when `out` holds this version's model."""
    try:
        return json.loads((out / "brixcheck.json").read_text())["version"] == MODEL_VERSION
    except (OSError, ValueError, KeyError):
        return False


def build(out: Path) -> None:
    """Write the tokenizer and model into `out` (created)."""
    out.mkdir(parents=True, exist_ok=True)
    train_tokenizer(out)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(out))
    save_model(out, len(tok), tok.convert_tokens_to_ids("<|im_end|>"),
               tok.convert_tokens_to_ids("<|endoftext|>"))
    (out / "brixcheck.json").write_text(json.dumps({"version": MODEL_VERSION}) + "\n")


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write("usage: tinymodel.py OUT_DIR [--check]\n")
        return 2
    out = Path(argv[0])
    if "--check" in argv:
        return 0 if is_built(out) else 1
    if not is_built(out):
        build(out)
    sys.stdout.write(f"{out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
