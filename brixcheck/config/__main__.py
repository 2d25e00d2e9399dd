"""`python -m brixcheck.config`: exit 0 when a suite run without --kubeconfig uses the twin, 1
when the kubeconfig order finds a cluster first (the Makefile asks before installing AIBrix)."""

import sys

from brixcheck.config.kubeconfig import reaches_twin

sys.exit(0 if reaches_twin() else 1)
