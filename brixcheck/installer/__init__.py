"""Installing AIBrix v0.5.0 into a cluster from its own release files (`brixcheck stack`)."""
