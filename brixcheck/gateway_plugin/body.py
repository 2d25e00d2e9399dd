"""Request body validation as AIBrix v0.5.0's ``validateRequestBody`` (pkg/plugins/gateway/util.go):
per path, the model, the prompt text the routers read, the stream flag, or an error answer.

Go's ``json.Unmarshal`` into openai-go structs fails on a wrong JSON type; the checks here
reproduce the failures the suite can trigger (body not an object, model or prompt not a string,
messages not a list, stream not a boolean) with v0.5.0's status, header, value and message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from envoy.service.ext_proc.v3 import external_processor_pb2 as pb

from brixcheck.gateway_plugin import responses as r

MAX_INPUT_TOKENS = 8192  # util.go MaxInputTokensPerModel
MAX_TOTAL_TOKENS = 300000
MAX_ARRAY_DIMENSIONS = 2048
LANGUAGE_PATHS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")
GENERATION_PATHS = ("/v1/image/generations", "/v1/video/generations")


@dataclass
class ParsedBody:
    """What the body phase needs from a valid body."""

    model: str = ""
    message: str = ""
    stream: bool = False


class BodyRejectedError(Exception):
    """The body is refused; `response` is v0.5.0's immediate answer."""

    def __init__(self, response: pb.ProcessingResponse) -> None:
        super().__init__("request body rejected")
        self.response = response


def _bad(message: str = "error processing request body", param: str = "",
         status: int = 400) -> BodyRejectedError:
    return BodyRejectedError(r.error_response_bare(status, message, "", param, r.ERROR_BODY,
                                                   "true"))


def _string(document: dict[str, Any], key: str) -> str:
    value = document.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad()
    return value


def parse_body(path: str, raw: bytes, user_tpm: int) -> ParsedBody:
    """Validate a request body for `path`; raise `BodyRejectedError` with v0.5.0's answer.

    Args:
        path: the request's ``:path`` as Envoy sent it.
        raw: the buffered body.
        user_tpm: the user's TPM limit (0 without a user); a streamed chat then needs usage.
    """
    try:
        document = json.loads(raw)
    except ValueError:
        raise _bad() from None
    if not isinstance(document, dict):
        raise _bad()
    if path == "/v1/chat/completions":
        return _chat(document, user_tpm)
    if path == "/v1/completions":
        return ParsedBody(model=_string(document, "model"), message=_string(document, "prompt"))
    if path == "/v1/embeddings":
        return _embeddings(document)
    if path in GENERATION_PATHS:
        return ParsedBody(model=_string(document, "model"))
    raise _bad("unknown request path", status=501)


def _chat(document: dict[str, Any], user_tpm: int) -> ParsedBody:
    model = _string(document, "model")
    messages = document.get("messages")
    options = document.get("stream_options")
    if (messages is not None and not isinstance(messages, list)) or (
            options is not None and not isinstance(options, dict)):
        raise _bad()
    if not messages:
        raise _bad("no messages in the request body", "messages")
    parsed = ParsedBody(model=model, message=_chat_message(messages))
    if "stream" not in document:
        return parsed
    if not isinstance(document["stream"], bool):
        raise BodyRejectedError(r.error_response_bare(400, "stream incorrectly set", "", "stream",
                                                 r.ERROR_STREAM, "stream incorrectly set"))
    parsed.stream = document["stream"]
    if parsed.stream and user_tpm > 0 and (options or {}).get("include_usage") is not True:
        text = "include usage for stream options not set"
        raise BodyRejectedError(r.error_response_bare(400, text, "", "stream_options",
                                                 r.ERROR_STREAM_INCLUDE_USAGE, text))
    return parsed


def _chat_message(messages: list[Any]) -> str:
    """Contents joined by single spaces; non-string contents as compact JSON (util.go)."""
    parts = []
    for message in messages:
        if not isinstance(message, dict):
            raise _bad()
        content = message.get("content")
        parts.append(content if isinstance(content, str)
                     else json.dumps(content, separators=(",", ":"), ensure_ascii=False))
    return " ".join(parts)


def _embeddings(document: dict[str, Any]) -> ParsedBody:
    model = _string(document, "model")
    problem = _embedding_input_problem(document.get("input"))
    if problem:
        raise _bad(problem, "input")
    if "stream" in document and document["stream"] is not False:
        raise _bad("stream not supported for embeddings", "stream")
    return ParsedBody(model=model)


def _embedding_input_problem(value: Any) -> str:
    """validateEmbeddingInput's message, or '' when the input is acceptable."""
    if value is None:
        return ""
    if isinstance(value, str):
        return _strings_problem([value])
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return _strings_problem(value)
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return _tokens_problem([value])
    if isinstance(value, list) and all(isinstance(v, list) for v in value):
        return _tokens_problem(value)
    return "input must be a string, []string, []int64, or [][]int64"


def _strings_problem(inputs: list[str]) -> str:
    if not inputs:
        return "input array cannot be empty"
    total = 0
    for index, text in enumerate(inputs):
        if not text:
            return ("input cannot be an empty string" if len(inputs) == 1
                    else f"input at index {index} cannot be an empty string")
        # v0.5.0 counts with its tokenizer; whitespace words are a lower bound of it.
        tokens = len(text.split())
        if tokens > MAX_INPUT_TOKENS:
            where = "input" if len(inputs) == 1 else f"input at index {index}"
            return (f"{where} exceeds max tokens per model ({MAX_INPUT_TOKENS}), "
                    f"estimated tokens: {tokens}")
        total += tokens
    if total > MAX_TOTAL_TOKENS:
        return (f"total tokens across all inputs exceeds maximum ({MAX_TOTAL_TOKENS}), "
                f"estimated total: {total}")
    return ""


def _tokens_problem(arrays: list[list[int]]) -> str:
    if not arrays:
        return "token arrays cannot be empty"
    total = 0
    for index, tokens in enumerate(arrays):
        where = "token array" if len(arrays) == 1 else f"token array at index {index}"
        if not tokens:
            return f"{where} cannot be empty"
        if len(tokens) > MAX_INPUT_TOKENS:
            return (f"{where} exceeds max tokens per model ({MAX_INPUT_TOKENS}), "
                    f"actual tokens: {len(tokens)}")
        if len(tokens) > MAX_ARRAY_DIMENSIONS:
            return (f"{where} exceeds max dimensions ({MAX_ARRAY_DIMENSIONS}), "
                    f"actual dimensions: {len(tokens)}")
        total += len(tokens)
    if total > MAX_TOTAL_TOKENS:
        return (f"total tokens across all inputs exceeds maximum ({MAX_TOTAL_TOKENS}), "
                f"actual total: {total}")
    return ""
