"""One request through the plugin: the four ext_proc phases of AIBrix v0.5.0.

Each method mirrors one v0.5.0 file and returns the ProcessingResponse to send:
`request_headers` (gateway_req_headers.go + gateway_ratelimit.go), `request_body`
(gateway_req_body.go), `response_headers` (gateway_rsp_headers.go), `response_body`
(gateway_rsp_body.go), and `engine_error` (gateway.go responseErrorProcessing, which wraps an
engine's error body into the plugin's own error JSON: the "double wrapping").
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from envoy.service.ext_proc.v3 import external_processor_pb2 as pb

from brixcheck.gateway_plugin import responses as r
from brixcheck.gateway_plugin.body import BodyRejectedError, parse_body
from brixcheck.gateway_plugin.ratelimit import LimitRefusedError, User
from brixcheck.gateway_plugin.types import RoutingContext, RoutingError

if TYPE_CHECKING:
    from brixcheck.gateway_plugin.server import Plugin

log = logging.getLogger("brixcheck.gateway_plugin")
NON_LANGUAGE_PREFIXES = ("/v1/image/generations", "/v1/video/generations")
PATH_REWRITES = {"/v1/image/generations": "/generate", "/v1/video/generations": "/generatevideo"}


def _value(item: Any) -> str:
    return item.raw_value.decode(errors="replace") if item.raw_value else item.value


def _read_headers(message: pb.HttpHeaders) -> tuple[str, str, dict[str, str]]:
    """The user, the path and the authorization header (gateway_req_headers.go)."""
    username = path = ""
    kept: dict[str, str] = {}
    for item in message.headers.headers:
        key = item.key.lower()
        if key == "user":
            username = _value(item)
        elif key == ":path":
            path = _value(item)
        elif key == "authorization":
            kept[item.key] = _value(item)
    return username, path, kept


def _strategy(message: pb.HttpHeaders, default: tuple[str, bool]) -> tuple[str, bool]:
    """The routing-strategy header, else ROUTING_ALGORITHM (util.go getRoutingStrategy)."""
    for item in message.headers.headers:
        if item.key.lower() == r.ROUTING_STRATEGY:
            return _value(item), True
    return default


@dataclass
class Request:
    """Per-stream state (the locals of gateway.go Process)."""

    plugin: Plugin
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    user: User = field(default_factory=User)
    rpm: int = 0
    ctx: RoutingContext | None = None
    model: str = ""
    stream: bool = False
    counted: bool = False
    finished: bool = False
    error_status: int = 0
    last_headers: list = field(default_factory=list)
    buffer: bytearray = field(default_factory=bytearray)

    # -- request headers ---------------------------------------------------------------------
    async def request_headers(self, message: pb.HttpHeaders) -> pb.ProcessingResponse:
        """Strategy check, user and limits, then continue with the route cache cleared."""
        username, path, kept = _read_headers(message)
        strategy, enabled = _strategy(message, self.plugin.default_strategy)
        known = strategy in self.plugin.strategy_names
        if enabled and not known:
            log.error("incorrect routing strategy requestID=%s routing-strategy=%s",
                      self.request_id, strategy)
            return r.error_response(400, r.headers(r.ERROR_INVALID_ROUTING, strategy),
                                    "incorrect routing strategy", param="routing-strategy")
        if username:
            try:
                self.user = await self.plugin.limits.get_user(username)
                self.rpm = await self.plugin.limits.check_limits(self.user)
            except LimitRefusedError as refused:
                return refused.response
        self.ctx = RoutingContext(algorithm=strategy if known else "", model="", message="",
                                  request_id=self.request_id, user=self.user.name or None,
                                  req_path=path, req_headers=kept)
        set_headers = r.headers(r.WENT_INTO_REQ_HEADERS, "true")
        if path in PATH_REWRITES:
            set_headers += r.headers(":path", PATH_REWRITES[path])
        return r.request_headers_response(set_headers)

    # -- request body ------------------------------------------------------------------------
    async def request_body(self, message: pb.HttpBody) -> pb.ProcessingResponse:
        """Validate the body, check the model, then route or hand over to `<model>-router`."""
        ctx = self.ctx
        if ctx is None:  # no headers phase: Envoy always sends it first
            return r.error_response_bare(500, "request headers were not processed", "", "",
                                         r.ERROR_BODY, "true")
        try:
            parsed = parse_body(ctx.req_path, message.body, self.user.tpm)
        except BodyRejectedError as rejected:
            return rejected.response
        self.model, self.stream = parsed.model, parsed.stream
        ctx.model, ctx.message, ctx.req_body = parsed.model, parsed.message, message.body
        cache = self.plugin.cache
        pods = cache.list_pods_by_model(self.model) if self.model else []
        if not pods:
            log.error("model doesn't exist in cache, probably wrong model name requestID=%s "
                      "model=%s", self.request_id, self.model)
            return r.error_response(400, r.headers(r.ERROR_NO_MODEL_BACKENDS, self.model),
                                    f"model {self.model} does not exist",
                                    r.CODE_MODEL_NOT_FOUND, "model")
        ready = [p for p in pods if p.ip and p.ready and not p.terminating]
        if not ready:
            return r.error_response(503, r.headers(r.ERROR_NO_MODEL_BACKENDS, "true"),
                                    f"error on getting pods for model {self.model}",
                                    r.CODE_UNAVAILABLE)
        if not ctx.algorithm:
            problem = await self.plugin.routes.problem(self.model)
            if problem:
                return r.error_response_bare(503, problem, r.CODE_UNAVAILABLE, "",
                                             r.ERROR_ROUTING, "true")
            set_headers = r.headers(r.MODEL, self.model)
        else:
            try:
                ctx.target = await self.plugin.select(ctx, ready)
            except RoutingError as exc:
                log.error("failed to select target pod requestID=%s routingStrategy=%s "
                          "model=%s: %s", self.request_id, ctx.algorithm, self.model, exc)
                return r.error_response(503, r.headers(r.ERROR_ROUTING, "true"),
                                        "error on selecting target pod", r.CODE_UNAVAILABLE)
            set_headers = r.headers(
                r.ROUTING_STRATEGY, ctx.algorithm, r.TARGET_POD, ctx.target.address,
                "content-length", str(len(ctx.req_body)), "X-Request-Id", ctx.request_id)
        log.info("request start requestID=%s requestPath=%s model=%s stream=%s "
                 "routingAlgorithm=%s targetPodIP=%s", self.request_id, ctx.req_path,
                 self.model, self.stream, ctx.algorithm,
                 ctx.target.address if ctx.target else "")
        cache.add_request_count(ctx)
        self.counted = True
        return r.request_body_response(set_headers, ctx.req_body)

    # -- response headers --------------------------------------------------------------------
    async def response_headers(self, message: pb.HttpHeaders) -> pb.ProcessingResponse:
        """Add request-id and target-pod; a non-200 status switches to error processing."""
        set_headers = r.headers(r.WENT_INTO_REQ_HEADERS, "true", r.REQUEST_ID, self.request_id)
        target = self.plugin.reported_target(self.ctx)
        if target:
            set_headers += r.headers(r.TARGET_POD, target)
        for item in message.headers.headers:
            if item.key == ":status":
                status = _value(item)
                if status != "200":
                    self.error_status = int(status) if status.isdigit() else 0
                set_headers += r.headers(":status", status)
                break
        self.last_headers = set_headers
        if self.error_status:
            self.finish(0, 0)
        if self.error_status == 500:
            return await self.engine_error("Internal server error")
        if self.error_status == 401:
            return await self.engine_error("Incorrect API key provided")
        return r.response_headers_response(set_headers)

    async def engine_error(self, message: str) -> pb.ProcessingResponse:
        """Wrap an engine's error (body or text) into the plugin's error JSON."""
        if not (self.ctx and self.ctx.algorithm == "pd"):
            problem = await self.plugin.routes.problem(self.model)
            if problem:
                message = f"{message}. {problem}" if message else problem
        log.error("request end requestID=%s errorCode=%d errorMessage=%s", self.request_id,
                  self.error_status, message)
        code = {401: r.CODE_INVALID_API_KEY, 503: r.CODE_UNAVAILABLE}.get(self.error_status, "")
        return r.error_response(self.error_status, self.last_headers, message, code)

    # -- response body -----------------------------------------------------------------------
    async def response_body(self, message: pb.HttpBody) -> pb.ProcessingResponse:
        """Find the usage (streamed: any chunk; else the whole body at its end) and count TPM."""
        if self.error_status:
            return await self.engine_error(message.body.decode(errors="replace"))
        if self.stream:
            usage = _stream_usage(message.body)
            if isinstance(usage, str):
                self.finish(0, 0)
                return r.error_response(500, r.headers(r.ERROR_STREAMING, "true"), usage)
        elif self.ctx is None or not self.ctx.req_path.startswith(NON_LANGUAGE_PREFIXES):
            self.buffer += message.body
            if not message.end_of_stream:
                return r.EMPTY_BODY_RESPONSE
            usage = _body_usage(bytes(self.buffer), message.body)
            self.buffer = bytearray()
            if isinstance(usage, pb.ProcessingResponse):
                self.finish(0, 0)
                return usage
        else:
            usage = None
        if usage and usage[2]:
            return await self._usage_seen(*usage)
        if message.end_of_stream:
            self.finish(0, 0)
        return r.EMPTY_BODY_RESPONSE

    async def _usage_seen(self, prompt: int, output: int, total: int) -> pb.ProcessingResponse:
        set_headers = []
        if self.user.name:
            try:
                tpm = await self.plugin.limits.incr(f"{self.user.name}_TPM_CURRENT", total)
            except Exception as exc:  # noqa: BLE001 - any Redis failure is this error
                self.finish(prompt, output)
                return r.error_response(500, r.headers(r.ERROR_INCR_TPM, "true"), str(exc))
            set_headers += r.headers(r.UPDATE_RPM, str(self.rpm), r.UPDATE_TPM, str(tpm))
        target = self.plugin.reported_target(self.ctx)
        if target:
            set_headers += r.headers(r.TARGET_POD, target, r.REQUEST_ID, self.request_id)
        self.finish(prompt, output)
        log.info("request end, requestID: %s - targetPod: %s", self.request_id, target or "")
        return r.response_body_response(set_headers)

    def finish(self, prompt_tokens: int, output_tokens: int) -> None:
        """Tell the cache the request ended, once (DoneRequestTrace / DoneRequestCount)."""
        if self.counted and not self.finished and self.ctx is not None:
            self.plugin.cache.done_request(self.ctx, prompt_tokens, output_tokens)
        self.finished = True


def _usage_of(document: Any) -> tuple[int, int, int]:
    usage = document.get("usage") or {}
    return (int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0),
            int(usage.get("total_tokens") or 0))


def _stream_usage(chunk: bytes) -> tuple[int, int, int] | str | None:
    """Usage from the chunk's events with no choices; an error text for a bad event.

    v0.5.0 decodes each body chunk on its own as an SSE stream of chat-completion chunks
    (openai-go ssestream): a data line that is not JSON, or an event with an ``error``, is an
    error. ``[DONE]`` ends the decoding.
    """
    found = None
    if b"data:" not in chunk:
        return None
    for line in chunk.split(b"\n"):
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data.startswith(b"[DONE]"):
            break
        if _plain_delta(data):
            continue
        try:
            event = json.loads(data)
        except ValueError as exc:
            return str(exc)
        if not isinstance(event, dict):
            return "cannot unmarshal event into a chat completion chunk"
        if event.get("error") is not None:
            return f"received error while streaming: {json.dumps(event['error'])}"
        if not event.get("choices"):
            found = _usage_of(event)
    return found


def _plain_delta(data: bytes) -> bool:
    """A JSON-object-looking event with choices, no usage and no error: nothing to read in it.

    Most chunks are this; skipping their decoding keeps the per-chunk cost low (every SSE chunk
    passes the plugin). Anything else is decoded as v0.5.0 decodes it.
    """
    return (data[:1] == b"{" and data[-1:] == b"}" and b'"usage"' not in data
            and b'"error"' not in data and b'"choices":[{' in data.replace(b" ", b""))


def _go_json_error(body: bytes) -> str:
    """The text of Go's json.Unmarshal error for a body that is not JSON (most common cases)."""
    stripped = body.lstrip()
    if not stripped:
        return "unexpected end of JSON input"
    first = chr(stripped[0])
    if first not in '{["-0123456789tfn':
        return f"invalid character '{first}' looking for beginning of value"
    return "invalid JSON in response body"


def _body_usage(body: bytes, last: bytes) -> tuple[int, int, int] | pb.ProcessingResponse:
    """Usage of a whole non-streamed answer, or v0.5.0's error for an unusable one.

    v0.5.0 quotes only the last body chunk (`last`) when the answer names no model.
    """
    try:
        document = json.loads(body)
    except ValueError:
        return r.error_response_bare(500, _go_json_error(body), "", "",
                                     r.ERROR_RESPONSE_UNMARSHAL, "true")
    if not isinstance(document, dict):
        return r.error_response_bare(500, "json: cannot unmarshal into Go value of type "
                                     "gateway.OpenAIResponse", "", "",
                                     r.ERROR_RESPONSE_UNMARSHAL, "true")
    if not document.get("model"):
        code = document.get("code")
        status = code if isinstance(code, int) and 100 <= code < 600 else 500
        return r.error_response_bare(status, last.decode(errors="replace") or "unknown response",
                                     "", "", r.ERROR_RESPONSE_UNKNOWN, "true")
    return _usage_of(document)


def elapsed_ms(since: float) -> float:
    """Milliseconds since a monotonic time."""
    return (time.monotonic() - since) * 1000
