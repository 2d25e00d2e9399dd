"""The HTTPRoute check of AIBrix v0.5.0 (``validateHTTPRouteStatus``,
pkg/plugins/gateway/gateway.go).

For every request without a routing strategy, and for every error answer from an engine, the
plugin GETs ``aibrix-system/<model>-router`` from the API server through its Gateway API
clientset. That clientset has client-go's default client-side limiter, a token bucket of 5 QPS
with a burst of 10, and callers WAIT for a token: the header-less path therefore cannot exceed
about 5 requests per second per plugin replica. This module reproduces the GET, the wait and the
status checks.
"""

from __future__ import annotations

import asyncio
import time

from kubernetes import client
from kubernetes.client.rest import ApiException

NAMESPACE = "aibrix-system"
GROUP, VERSION, PLURAL = "gateway.networking.k8s.io", "v1", "httproutes"
CLIENT_QPS = 5.0  # client-go rest.Config defaults (DefaultQPS, DefaultBurst)
CLIENT_BURST = 10
REQUEST_TIMEOUT_S = 10.0


class TokenBucket:
    """client-go's flowcontrol token bucket: `wait` blocks until a token is free."""

    def __init__(self, qps: float = CLIENT_QPS, burst: int = CLIENT_BURST) -> None:
        self.qps, self.burst = qps, burst
        self._tokens = float(burst)
        self._last = time.monotonic()
        self._lock = asyncio.Lock()

    async def wait(self) -> float:
        """Take one token, sleeping until it is there; return the seconds waited."""
        async with self._lock:  # first come, first served, as client-go's limiter
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.qps)
            self._last = now
            self._tokens -= 1
            delay = max(0.0, -self._tokens / self.qps)
            if delay:
                await asyncio.sleep(delay)
            return delay


def _route_problems(route: dict, name: str) -> list[str]:
    where = f"httproute: {NAMESPACE}/{name}"
    problems = []
    for parent in (route.get("status") or {}).get("parents") or []:
        conditions = parent.get("conditions") or []
        if not conditions:
            problems.append(f"{where}, does not have valid status")
            break
        for condition in conditions:
            kind, reason = condition.get("type"), condition.get("reason")
            if kind == "Accepted" and reason != "Accepted":
                problems.append(f"{where}, route is not accepted: {reason}.")
            elif kind == "ResolvedRefs" and reason != "ResolvedRefs":
                problems.append(f"{where}, route's object references are not resolved: "
                                f"{reason}.")
    return problems


def _api_error_text(exc: ApiException, name: str) -> str:
    """client-go's error strings for the two 404s (no such route, no such resource type)."""
    body = exc.body if isinstance(exc.body, str) else (exc.body or b"").decode(errors="replace")
    if exc.status == 404 and '"kind":"Status"' in body.replace(" ", "") and "NotFound" in body:
        return f'{PLURAL}.{GROUP} "{name}" not found'
    if exc.status == 404:
        return f"the server could not find the requested resource (get {PLURAL}.{GROUP} {name})"
    return f"{exc.status} {exc.reason}"


class RouteChecker:
    """GET `<model>-router` behind the client-side limiter; '' when it is fine, else why not."""

    def __init__(self, api_client: client.ApiClient | None,
                 bucket: TokenBucket | None = None) -> None:
        self._api = client.CustomObjectsApi(api_client) if api_client is not None else None
        self.bucket = bucket or TokenBucket()
        self.lookups = 0

    async def problem(self, model: str) -> str:
        """Return v0.5.0's error text for the model's route, or '' when it is acceptable."""
        name = f"{model}-router"
        await self.bucket.wait()
        self.lookups += 1
        if self._api is None:
            return "no kubeconfig: the plugin cannot reach the API server"
        try:
            route = await asyncio.to_thread(
                self._api.get_namespaced_custom_object, GROUP, VERSION, NAMESPACE, PLURAL, name,
                _request_timeout=REQUEST_TIMEOUT_S)
        except ApiException as exc:
            return _api_error_text(exc, name)
        except Exception as exc:  # noqa: BLE001 - any transport failure is the error text
            return str(exc)
        return ", ".join(_route_problems(route, name))
