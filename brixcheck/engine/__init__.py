"""A vLLM-compatible engine emulator that stands in for GPU pods.

It speaks the vLLM v0.11 OpenAI server's API and metrics, and times its tokens with a
continuous-batching model of a named GPU and model (`profiles`). It imports neither Kubernetes
nor Locust.
"""
