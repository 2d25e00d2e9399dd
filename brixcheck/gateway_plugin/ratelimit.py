"""Users and their RPM/TPM limits in Redis, as AIBrix v0.5.0 keeps them.

- A user is JSON ``{"name","rpm","tpm"}`` at ``aibrix-users/<name>`` (pkg/utils/users.go), written
  by the metadata service's ``/CreateUser``.
- Counters are a fixed-window limiter (pkg/plugins/gateway/ratelimiter/redis.go): key
  ``aibrix:<user>_RPM_CURRENT:<bin>`` with bin = unix seconds / 60 mod 64, INCRBY then EXPIRE 60 s.
- The checks run in the request-headers phase (gateway_ratelimit.go): RPM first, then the RPM
  increment, then TPM; an unset limit is 100 RPM and rpm x 1000 TPM.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb

from brixcheck.gateway_plugin import responses as r

USER_PREFIX = "aibrix-users/"
LIMITER_NAME = "aibrix"
WINDOW_S = 60
BINS = 64
DEFAULT_RPM = 100
DEFAULT_TPM_MULTIPLIER = 1000


@dataclass
class User:
    """pkg/utils/users.go User."""

    name: str = ""
    rpm: int = 0
    tpm: int = 0


class LimitRefusedError(Exception):
    """A user lookup or limit check refused the request; `response` is v0.5.0's answer."""

    def __init__(self, response: pb.ProcessingResponse) -> None:
        super().__init__("refused by user limits")
        self.response = response


def counter_key(name: str, now: float | None = None) -> str:
    """The limiter's key for a counter name in the current window bin."""
    moment = int(time.time() if now is None else now)
    return f"{LIMITER_NAME}:{name}:{moment // WINDOW_S % BINS}"


class RateLimits:
    """Users and counters on one Redis connection pool."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.redis = client

    async def get_user(self, name: str) -> User:
        """Read the user; raise LimitRefusedError with 500 ``x-error-user`` as v0.5.0 does.

        A missing user gives go-redis's message ``redis: nil``.
        """
        try:
            raw = await self.redis.get(USER_PREFIX + name)
        except aioredis.RedisError as exc:
            raise _refused(500, r.ERROR_USER, str(exc)) from None
        if raw is None:
            raise _refused(500, r.ERROR_USER, "redis: nil")
        try:
            data = json.loads(raw)
            return User(str(data.get("name", "")), int(data.get("rpm") or 0),
                        int(data.get("tpm") or 0))
        except (ValueError, TypeError, AttributeError) as exc:
            raise _refused(500, r.ERROR_USER, str(exc)) from None

    async def check_limits(self, user: User) -> int:
        """RPM check, RPM increment, TPM check (checkLimits); return the incremented RPM."""
        rpm_limit = user.rpm or DEFAULT_RPM
        tpm_limit = user.tpm or rpm_limit * DEFAULT_TPM_MULTIPLIER
        current = await self._get(f"{user.name}_RPM_CURRENT", "RPM", user.name,
                                  r.ERROR_RPM_EXCEEDED)
        if current >= rpm_limit:
            raise _refused(429, r.ERROR_RPM_EXCEEDED,
                           f"user: {user.name} has exceeded RPM: {rpm_limit}", r.CODE_RATE_LIMIT)
        try:
            rpm = await self.incr(f"{user.name}_RPM_CURRENT", 1)
        except aioredis.RedisError:
            raise _refused(500, r.ERROR_INCR_RPM,
                           f"fail to increment RPM for user: {user.name}") from None
        tokens = await self._get(f"{user.name}_TPM_CURRENT", "TPM", user.name,
                                 r.ERROR_TPM_EXCEEDED)
        if tokens >= tpm_limit:
            raise _refused(429, r.ERROR_TPM_EXCEEDED,
                           f"user: {user.name} has exceeded TPM: {tpm_limit}", r.CODE_RATE_LIMIT)
        return rpm

    async def _get(self, name: str, what: str, user: str, error_header: str) -> int:
        try:
            value = await self.redis.get(counter_key(name))
        except aioredis.RedisError:
            raise _refused(500, error_header, f"fail to get {what} for user: {user}") from None
        return int(value) if value is not None else 0

    async def incr(self, name: str, amount: int) -> int:
        """INCRBY and EXPIRE in one pipeline (incrAndExpire); return the new count."""
        key = counter_key(name)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incrby(key, amount)
            pipe.expire(key, WINDOW_S)
            value, _ = await pipe.execute()
        return int(value)


def _refused(status: int, error_header: str, message: str, code: str = "") -> LimitRefusedError:
    answer = r.error_response(status, r.headers(error_header, "true"), message, code)
    return LimitRefusedError(answer)
