"""Benchmark scenarios (declared as YAML data) and how one is run with Locust per strategy."""
