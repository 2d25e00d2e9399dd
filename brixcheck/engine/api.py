"""OpenAI request parsing and vLLM-shaped responses for the emulator.

Validation follows the vLLM v0.11 OpenAI server: pydantic-style 400s for malformed bodies, 404
`NotFoundError` for an unknown model, 400 for context overflow with vLLM's wording, and errors in
vLLM's `{"error": {message, type, param, code}}` envelope. Responses and stream chunks are built
as byte templates because the emulator writes tens of thousands of chunks per second.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from brixcheck.engine.tokenizer import render_chat

CHAT_PATH = "/v1/chat/completions"
COMPLETIONS_PATH = "/v1/completions"


class ApiError(Exception):
    """An error answered to the client with vLLM's error envelope."""

    def __init__(self, status: int, message: str, err_type: str = "BadRequestError") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.err_type = err_type

    def body(self) -> bytes:
        """JSON body of the error, as vLLM's ErrorResponse."""
        error = {"message": self.message, "type": self.err_type, "param": None,
                 "code": self.status}
        return json.dumps({"error": error}).encode()


@dataclass(frozen=True)
class GenerationRequest:
    """A validated chat or completion request."""

    kind: str
    model: str
    prompt_text: str
    stream: bool
    max_tokens: int | None
    min_tokens: int
    ignore_eos: bool
    include_usage: bool
    continuous_usage: bool
    prompt_token_ids: tuple[int, ...] | None = None
    kv_transfer_params: dict[str, Any] | None = None


def _validation_error(kind: str, loc: str, msg: str, value: Any = None) -> ApiError:
    detail = [{"type": kind, "loc": ("body", loc), "msg": msg, "input": value}]
    return ApiError(400, str(detail), "Bad Request")


def decode_body(body: bytes) -> dict[str, Any]:
    """Parse a JSON object body or raise the 400 vLLM gives for invalid JSON."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _validation_error("json_invalid", "0", "JSON decode error", str(exc)) from None
    except RecursionError:  # e.g. 100,000 nested `[`: vLLM's parser refuses it, so do we
        raise _validation_error("json_invalid", "0", "JSON decode error",
                                "recursion limit exceeded") from None
    if not isinstance(data, dict):
        raise _validation_error("model_attributes_type", "0",
                                "Input should be a valid dictionary or object", data)
    return data


def _optional_int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _validation_error("int_type", key, "Input should be a valid integer", value)
    return value


# Sampling parameters the emulator ignores but validates, as vLLM's pydantic model does.
_NUMBERS = ("temperature", "top_p", "presence_penalty", "frequency_penalty",
            "repetition_penalty", "min_p")
_INTEGERS = ("top_k", "seed", "logprobs", "top_logprobs")


def _check_sampling(data: dict[str, Any]) -> None:
    for key in _NUMBERS:
        value = data.get(key)
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            continue
        try:
            float(value)
        except (TypeError, ValueError):
            raise _validation_error("float_parsing", key, "Input should be a valid number, "
                                    "unable to parse string as a number", value) from None
    for key in _INTEGERS:
        if not isinstance(data.get(key), bool):
            _optional_int(data, key)


def _check_messages(messages: list[dict[str, Any]]) -> None:
    """A message needs string or list content; only an assistant's may be null (tool calls)."""
    for index, message in enumerate(messages):
        content = message.get("content")
        if content is None and message.get("role") == "assistant":
            continue
        if not isinstance(content, str | list):
            raise _validation_error("string_type", f"messages.{index}.content",
                                    "Input should be a valid string", content)


def _bool(data: dict[str, Any], key: str, default: bool = False) -> bool:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _validation_error("bool_parsing", key, "Input should be a valid boolean", value)
    return value


def _kv_transfer_params(data: dict[str, Any]) -> dict[str, Any] | None:
    """vLLM's `kv_transfer_params` request field: an object or null (read by a KV connector)."""
    value = data.get("kv_transfer_params")
    if value is not None and not isinstance(value, dict):
        raise _validation_error("dict_type", "kv_transfer_params",
                                "Input should be a valid dictionary", value)
    return value


def _prompt_of(kind: str, data: dict[str, Any]) -> tuple[str, tuple[int, ...] | None]:
    if kind == "chat":
        messages = data.get("messages")
        if messages is None:
            raise _validation_error("missing", "messages", "Field required", data)
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise _validation_error("list_type", "messages", "Input should be a valid list",
                                    messages)
        _check_messages(messages)
        return render_chat(messages), None
    prompt = data.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if isinstance(prompt, str) and prompt:
        return prompt, None
    if isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt):
        return "", tuple(prompt)
    if isinstance(prompt, list) and len(prompt) > 1:
        raise ApiError(400, "The emulator serves one prompt per request; send each prompt of "
                            "a batch as its own request.")
    raise ApiError(400, "Either prompt or prompt_embeds must be provided and non-empty.")


def parse_generation(kind: str, body: bytes) -> GenerationRequest:
    """Validate a chat (`kind="chat"`) or completion body into a `GenerationRequest`."""
    data = decode_body(body)
    prompt_text, prompt_ids = _prompt_of(kind, data)
    _check_sampling(data)
    stream = _bool(data, "stream")
    options = data.get("stream_options")
    if options is not None and not stream:
        raise ApiError(400, "Stream options can only be defined when `stream=True`.")
    options = options if isinstance(options, dict) else {}
    max_tokens = _optional_int(data, "max_completion_tokens") if kind == "chat" else None
    if max_tokens is None:
        max_tokens = _optional_int(data, "max_tokens")
    min_tokens = _optional_int(data, "min_tokens") or 0
    if max_tokens is not None and max_tokens < 1:
        raise ApiError(400, f"max_tokens must be at least 1, got {max_tokens}.")
    if max_tokens is not None and min_tokens > max_tokens:
        raise ApiError(400, "min_tokens must be less than or equal to "
                            f"max_tokens={max_tokens}, got {min_tokens}.")
    if data.get("n", 1) not in (1, None):
        raise ApiError(400, "The emulator serves n=1 only; send n separate requests instead.")
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise _validation_error("string_type", "model", "Input should be a valid string", model)
    include_usage = bool(options.get("include_usage"))
    return GenerationRequest(
        kind=kind,
        model=model or "",
        prompt_text=prompt_text,
        stream=stream,
        max_tokens=max_tokens,
        min_tokens=min_tokens,
        ignore_eos=_bool(data, "ignore_eos"),
        include_usage=include_usage,
        continuous_usage=include_usage and bool(options.get("continuous_usage_stats")),
        prompt_token_ids=prompt_ids,
        kv_transfer_params=_kv_transfer_params(data),
    )


def check_context(max_model_len: int, input_len: int, max_tokens: int | None) -> int:
    """Return the effective max_tokens or raise vLLM's context-length errors."""
    if input_len >= max_model_len:
        raise ApiError(400, f"This model's maximum context length is {max_model_len} tokens. "
                            f"However, your request has {input_len} input tokens. Please reduce "
                            "the length of the input messages.")
    if max_tokens is None:
        return max_model_len - input_len
    if max_tokens > max_model_len - input_len:
        raise ApiError(400, f"'max_tokens' or 'max_completion_tokens' is too large: "
                            f"{max_tokens}. This model's maximum context length is "
                            f"{max_model_len} tokens and your request has {input_len} input "
                            f"tokens ({max_tokens} > {max_model_len} - {input_len}).")
    return max_tokens


def usage_json(prompt: int, completion: int, cached: int | None = None,
               details_key: bool = False) -> str:
    """vLLM UsageInfo; `details_key` writes `prompt_tokens_details: null` when not cached."""
    text = f'{{"prompt_tokens":{prompt},"total_tokens":{prompt + completion},' \
           f'"completion_tokens":{completion}'
    if cached:
        text += f',"prompt_tokens_details":{{"cached_tokens":{cached}}}'
    elif details_key:
        text += ',"prompt_tokens_details":null'
    return text + "}"


@lru_cache(maxsize=4096)
def _json_text(text: str) -> str:
    """JSON string literal of a token's text; output pieces repeat, so cache them."""
    return json.dumps(text)


class ChunkWriter:
    """Byte templates for one streamed response (chat or completion)."""

    def __init__(self, kind: str, request_id: str, created: int, model: str) -> None:
        self.kind = kind
        obj = "chat.completion.chunk" if kind == "chat" else "text_completion"
        self._head = (f'data: {{"id":"{request_id}","object":"{obj}","created":{created},'
                      f'"model":{json.dumps(model)},"choices":[')

    def role(self, usage: str | None) -> bytes:
        """The first chat chunk: role with empty content."""
        body = '{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,' \
               '"finish_reason":null}]'
        return self._event(body, usage)

    def token(self, text: str, finish_reason: str | None, usage: str | None) -> bytes:
        """One token chunk; `finish_reason` set on the last one."""
        reason = "null" if finish_reason is None else f'"{finish_reason}"'
        stop = ',"stop_reason":null' if finish_reason is not None or self.kind != "chat" else ""
        if self.kind == "chat":
            body = (f'{{"index":0,"delta":{{"content":{_json_text(text)}}},"logprobs":null,'
                    f'"finish_reason":{reason}{stop},"token_ids":null}}]')
            return self._event(body, usage)
        body = (f'{{"index":0,"text":{_json_text(text)},"logprobs":null,"finish_reason":'
                f'{reason}{stop},"prompt_token_ids":null,"token_ids":null}}]')
        return self._event(body, usage if usage is not None else "null")

    def usage(self, usage: str) -> bytes:
        """The final usage-only chunk of `include_usage`."""
        return self._event("]", usage)

    def _event(self, choices_tail: str, usage: str | None) -> bytes:
        tail = "" if usage is None else f',"usage":{usage}'
        return f"{self._head}{choices_tail}{tail}}}\n\n".encode()


DONE = b"data: [DONE]\n\n"


def full_response(req: GenerationRequest, request_id: str, created: int, model: str,
                  text: str, finish_reason: str, usage: str,
                  kv_transfer_params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The non-streamed body vLLM returns for a chat or completion."""
    if req.kind == "chat":
        message = {"role": "assistant", "content": text, "refusal": None, "annotations": None,
                   "audio": None, "function_call": None, "tool_calls": [],
                   "reasoning_content": None}
        choice: dict[str, Any] = {"index": 0, "message": message, "logprobs": None,
                                  "finish_reason": finish_reason, "stop_reason": None,
                                  "token_ids": None}
        obj = "chat.completion"
    else:
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason,
                  "stop_reason": None, "prompt_logprobs": None, "prompt_token_ids": None,
                  "token_ids": None}
        obj = "text_completion"
    body: dict[str, Any] = {"id": request_id, "object": obj, "created": created, "model": model,
                            "choices": [choice], "service_tier": None,
                            "system_fingerprint": None, "usage": json.loads(usage)}
    if req.kind == "chat":
        body["prompt_logprobs"] = None
        body["prompt_token_ids"] = None
    body["kv_transfer_params"] = kv_transfer_params
    return body
