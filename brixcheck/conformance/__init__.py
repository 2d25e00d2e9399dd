"""Conformance cases: the case model, capabilities and the pytest outcome plugin."""
