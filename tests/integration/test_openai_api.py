"""The official openai client parses every response shape the emulator produces."""

from __future__ import annotations

import openai
import pytest

from tests.integration.conftest import MODEL


@pytest.fixture
def client(engine_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{engine_url}/v1", api_key="unused", max_retries=0)


def test_chat_completion_whole(client: openai.OpenAI):
    reply = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=12)
    assert reply.object == "chat.completion"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content
    assert reply.choices[0].finish_reason in ("length", "stop")
    assert reply.usage.completion_tokens <= 12
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_chat_completion_stream_with_usage(client: openai.OpenAI):
    chunks = list(client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=10,
        stream=True, stream_options={"include_usage": True}, extra_body={"ignore_eos": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) == 10
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 10


def test_chat_completion_stream_continuous_usage(client: openai.OpenAI):
    chunks = list(client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "count"}], max_tokens=5,
        stream=True, extra_body={"ignore_eos": True},
        stream_options={"include_usage": True, "continuous_usage_stats": True}))
    counts = [c.usage.completion_tokens for c in chunks if c.choices]
    assert counts == [0, 1, 2, 3, 4, 5]


def test_completion_whole_and_stream(client: openai.OpenAI):
    whole = client.completions.create(model=MODEL, prompt="Once upon", max_tokens=6,
                                      extra_body={"ignore_eos": True})
    assert whole.object == "text_completion"
    assert whole.usage.completion_tokens == 6
    streamed = list(client.completions.create(model=MODEL, prompt="Once upon", max_tokens=6,
                                              stream=True, extra_body={"ignore_eos": True}))
    assert "".join(c.choices[0].text for c in streamed) == whole.choices[0].text


def test_same_seed_and_prompt_give_the_same_text(client: openai.OpenAI):
    texts = {client.completions.create(model=MODEL, prompt="same", max_tokens=8).choices[0].text
             for _ in range(2)}
    assert len(texts) == 1


def test_min_tokens_delays_the_natural_stop(client: openai.OpenAI):
    reply = client.completions.create(model=MODEL, prompt="x", max_tokens=110,
                                      extra_body={"min_tokens": 100})
    assert reply.usage.completion_tokens >= 100


def test_models_lists_the_served_name(client: openai.OpenAI):
    assert [m.id for m in client.models.list()] == [MODEL]


def test_unknown_model_is_404_not_found(client: openai.OpenAI):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 404
    assert "The model `nope` does not exist." in str(info.value)


def test_max_tokens_beyond_context_is_400(client: openai.OpenAI):
    with pytest.raises(openai.BadRequestError, match="maximum context length is 4096"):
        client.completions.create(model=MODEL, prompt="x", max_tokens=5000)


def test_missing_messages_is_400(client: openai.OpenAI):
    with pytest.raises(openai.BadRequestError, match="Field required"):
        client.post("/chat/completions", body={"model": MODEL}, cast_to=object)


def test_prefix_cache_hit_is_reported_in_usage(client: openai.OpenAI):
    prompt = "shared system prompt " * 40
    first = client.completions.create(model=MODEL, prompt=prompt + "one", max_tokens=2)
    second = client.completions.create(model=MODEL, prompt=prompt + "two", max_tokens=2)
    assert not first.usage.prompt_tokens_details
    assert second.usage.prompt_tokens_details.cached_tokens >= 100
