"""brixcheck: conformance and benchmark suite for AIBrix serving vLLM on K3s."""

__version__ = "0.1.0"
