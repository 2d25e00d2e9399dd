from __future__ import annotations

import json

import pytest

from brixcheck.engine.api import ApiError, check_context, parse_generation


def _error(kind: str, body: bytes) -> ApiError:
    with pytest.raises(ApiError) as info:
        parse_generation(kind, body)
    return info.value


def test_parse_rejects_invalid_json_with_400():
    error = _error("chat", b"{not json")
    assert error.status == 400
    assert "JSON decode error" in error.message


def test_parse_rejects_chat_without_messages():
    error = _error("chat", json.dumps({"model": "m"}).encode())
    assert error.status == 400
    assert "'messages'" in error.message
    assert "Field required" in error.message


def test_parse_rejects_non_boolean_stream():
    error = _error("chat", json.dumps({"messages": [], "stream": "yes"}).encode())
    assert "valid boolean" in error.message


def test_parse_rejects_completion_without_prompt_with_vllm_wording():
    error = _error("completion", json.dumps({"model": "m"}).encode())
    assert error.message == "Either prompt or prompt_embeds must be provided and non-empty."


def test_parse_rejects_stream_options_without_stream():
    body = {"prompt": "x", "stream_options": {"include_usage": True}}
    error = _error("completion", json.dumps(body).encode())
    assert error.message == "Stream options can only be defined when `stream=True`."


def test_parse_rejects_min_tokens_above_max_tokens():
    body = {"prompt": "x", "max_tokens": 2, "min_tokens": 5}
    error = _error("completion", json.dumps(body).encode())
    assert "min_tokens must be less than or equal to max_tokens=2, got 5." in error.message


def test_parse_prefers_max_completion_tokens_for_chat():
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 9,
            "max_completion_tokens": 3, "stream": True,
            "stream_options": {"include_usage": True, "continuous_usage_stats": True}}
    request = parse_generation("chat", json.dumps(body).encode())
    assert request.max_tokens == 3
    assert request.include_usage
    assert request.continuous_usage


def test_check_context_reports_overflow_with_vllm_wording():
    with pytest.raises(ApiError) as info:
        check_context(max_model_len=100, input_len=60, max_tokens=50)
    message = info.value.message
    assert message.startswith("'max_tokens' or 'max_completion_tokens' is too large: 50.")
    assert "(50 > 100 - 60)" in message


def test_check_context_defaults_max_tokens_to_the_remaining_context():
    assert check_context(max_model_len=100, input_len=60, max_tokens=None) == 40


def test_api_error_body_is_vllm_error_envelope():
    body = json.loads(ApiError(404, "The model `x` does not exist.", "NotFoundError").body())
    assert body == {"error": {"message": "The model `x` does not exist.",
                              "type": "NotFoundError", "param": None, "code": 404}}
