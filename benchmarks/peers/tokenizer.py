"""Build a small byte-level BPE tokenizer with a chat template, offline, for the peer tools.

The tools look a tokenizer up by model name; the emulator serves `deepseek-r1-qwen-1b5`, so the
folder is ~/.cache/brixcheck/peers/tokenizer/deepseek-r1-qwen-1b5 (HF format: tokenizer.json,
tokenizer_config.json with a ChatML template, special_tokens_map.json, config.json). It is
trained here on a deterministic synthetic corpus; nothing comes from a model hub.

Needs `tokenizers` and `transformers`, which the project venv does not have: run from the repo
root and it re-runs itself with the first peer venv that has them.
Usage: python -m benchmarks.peers.tokenizer [--model NAME] [--vocab 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
from pathlib import Path

from benchmarks.peers.paths import CACHE, MODEL, REPO, offline_env, tokenizer_dir, venv_dir

CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
WORDS_TEXT = ("the of and to in is was that for on with as by at from his her they which this be "
         "had not are but have one all were when we there can an your their said if do will "
         "each about how up out them then she many some so these would other into has more "
         "time could no make than first been its who now people my made over did down only "
         "way find use may water long little very after words called just where most know "
         "load gateway routing token stream latency request server model engine cluster pod "
         "benchmark throughput prefix cache queue decode prefill batch kernel memory")
WORDS = WORDS_TEXT.split()


def corpus(lines: int = 4000, seed: int = 7) -> list[str]:
    """Deterministic English-like text: common words plus digits and punctuation."""
    rng = random.Random(seed)
    out = []
    for _ in range(lines):
        words = [rng.choice(WORDS) for _ in range(rng.randint(5, 25))]
        if rng.random() < 0.3:
            words.append(str(rng.randint(0, 9999)))
        out.append(" ".join(words).capitalize() + rng.choice([".", "?", "!", ","]))
    return out


def build(target: Path, vocab_size: int) -> Path:
    """Train the BPE and save it in HF format under `target`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>",
                                   eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   unk_token="<|endoftext|>", model_max_length=4096)
    fast.chat_template = CHAT_TEMPLATE
    target.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(target))
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
              "vocab_size": tok.get_vocab_size(), "hidden_size": 64, "num_hidden_layers": 1,
              "num_attention_heads": 1, "num_key_value_heads": 1, "intermediate_size": 128,
              "max_position_embeddings": 4096, "bos_token_id": tok.token_to_id(SPECIALS[0]),
              "eos_token_id": tok.token_to_id(SPECIALS[2]), "torch_dtype": "float32"}
    (target / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return target


def install_hf_cache(source: Path, name: str) -> Path:
    """Also lay the folder out as an offline HF cache entry `models--NAME` (HF_HOME of the
    harness): aiperf, with HF_HUB_OFFLINE=1, only looks tokenizers up through
    `snapshot_download(local_files_only=True)` and refuses a plain folder path."""
    repo = CACHE / "hf-home/hub" / f"models--{name.replace('/', '--')}"
    revision = "0" * 40
    snapshot = repo / "snapshots" / revision
    if snapshot.exists():
        shutil.rmtree(snapshot)
    snapshot.mkdir(parents=True)
    for item in source.iterdir():
        shutil.copy2(item, snapshot / item.name)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs/main").write_text(revision)
    return snapshot


def reexec_python() -> str | None:
    """A peer venv's python that has tokenizers + transformers, if any."""
    for tool in ("aiperf", "guidellm", "inference-perf", "vllm-client", "vllm"):
        exe = venv_dir(tool) / "bin/python"
        if exe.exists() and os.system(f"{exe} -c 'import tokenizers, transformers' "
                                      "2>/dev/null") == 0:
            return str(exe)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--vocab", type=int, default=2000)
    args = parser.parse_args()
    try:
        import tokenizers  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        exe = reexec_python()
        if exe is None:
            print("no peer venv has tokenizers + transformers: run benchmarks.peers.install")
            return 1
        os.chdir(REPO)
        os.execve(exe, [exe, "-m", "benchmarks.peers.tokenizer", *sys.argv[1:]], offline_env())
    target = build(tokenizer_dir(args.model), args.vocab)
    print(f"tokenizer written to {target}")
    print(f"HF cache entry: {install_hf_cache(target, args.model)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
