"""Load generation: arrival schedules, SSE timing and per-request records.

Nothing here computes statistics (that is `brixcheck.analysis`) and nothing imports Locust:
the Locust user classes in `locustfiles/` drive these pieces.
"""
