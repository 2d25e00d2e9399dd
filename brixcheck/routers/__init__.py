"""Third-party routers run on the same bench as AIBrix (vllm-router)."""
