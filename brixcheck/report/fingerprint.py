"""Environment fingerprint: which runs are comparable night over night.

Two runs are compared only when everything that shapes the numbers but is not under test is the
same: target kind, GPU product, driver, engine image and version, model, AIBrix version and
scenario. The fingerprint hashes exactly those keys of the environment stamp; other stamp keys
(node names, timestamps) do not change it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

FINGERPRINT_KEYS = ("target", "gpuProduct", "driver", "engineImage", "engineVersion", "model",
                    "aibrixVersion", "scenario")


def fingerprint_fields(environment: Mapping[str, Any]) -> dict[str, str]:
    """The environment keys the fingerprint covers, as strings ("" when absent).

    Args:
        environment: the run's environment stamp.

    Returns:
        `FINGERPRINT_KEYS` -> value.
    """
    return {key: str(environment.get(key, "") or "") for key in FINGERPRINT_KEYS}


def fingerprint(environment: Mapping[str, Any]) -> str:
    """Short stable hash of `fingerprint_fields` (16 hex digits of SHA-256 of sorted JSON).

    Args:
        environment: the run's environment stamp.

    Returns:
        The fingerprint.
    """
    canonical = json.dumps(fingerprint_fields(environment), sort_keys=True,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
