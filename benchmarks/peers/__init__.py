"""Peer load generators (guidellm, aiperf, inference-perf, vllm bench) run side by side with the
engine emulator's ground truth. Entry points: `install.py`, `tokenizer.py`, `compare.py`."""
