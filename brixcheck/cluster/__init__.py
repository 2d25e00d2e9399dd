"""The cluster under test: connecting to it, its gateway, model deployments, the AIBrix stack
in it, pod access, Kubernetes helpers and the GPU memory its nodes offer."""
