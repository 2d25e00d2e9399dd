"""Results history: runs, their summaries and raw samples in SQLite, keyed by fingerprint.

The database stores what analysis computed and what significance tests need later; it
computes no metric itself. `gate` compares two stored runs for the nightly regression gate.
"""
