"""Users in AIBrix's metadata service, for the rate-limit cases: created through its real API
(``POST /CreateUser``), deleted afterwards (``/DeleteUser``).

The twin's service is on loopback (its address in the twin's marker); on a cluster it
is reached through the API server's service proxy to ``aibrix-system/aibrix-metadata-service``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.cluster.target import Target

TIMEOUT_S = 10.0
PROXY = (f"/api/v1/namespaces/{aibrix.SYSTEM_NAMESPACE}/services/"
         f"{aibrix.METADATA_SERVICE}:{aibrix.METADATA_SERVICE_PORT}/proxy")


class MetadataUsers:
    """Create users with limits; remember them for deletion."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.created: list[str] = []

    def _call(self, path: str, document: dict[str, Any]) -> None:
        if self.target.announced_metadata:
            reply = httpx.post(f"{self.target.announced_metadata}{path}", json=document,
                               timeout=TIMEOUT_S, trust_env=False)
            status, text = reply.status_code, reply.text
        else:
            api = self.target.api_client
            _, status, _ = api.call_api(f"{PROXY}{path}", "POST", body=document,
                                        header_params={"Content-Type": "application/json"},
                                        auth_settings=["BearerToken"], _preload_content=False,
                                        _request_timeout=TIMEOUT_S)
            text = ""
        if status != 200:
            raise AssertionError(f"metadata service {path} answered {status}: {text[:200]}")

    def create(self, rpm: int, tpm: int) -> str:
        """A new user with these limits; returns its name."""
        name = f"brixcheck-{uuid.uuid4().hex[:8]}"
        self._call("/CreateUser", {"name": name, "rpm": rpm, "tpm": tpm})
        self.created.append(name)
        return name

    def delete_all(self) -> None:
        """Delete every user this object created."""
        for name in self.created:
            with contextlib.suppress(AssertionError, httpx.HTTPError):
                self._call("/DeleteUser", {"name": name})
        self.created.clear()


@contextlib.contextmanager
def metadata_users(target: Target) -> Iterator[MetadataUsers]:
    """Users for one case, deleted when it ends."""
    users = MetadataUsers(target)
    try:
        yield users
    finally:
        users.delete_all()
