"""Provider wire formats for fakes, after the real APIs (see ../shared/docs/wire-formats.md)."""

import json


def sse(obj, event=None):
    data = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def chat_usage(prompt=12, completion=5, cached=0, reasoning=0):
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }


def chat_completion(model, content, usage=None, finish_reason="stop", id="chatcmpl-fake1"):
    return {
        "id": id,
        "object": "chat.completion",
        "created": 1730000000,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None,
                                             "annotations": []},
                     "logprobs": None, "finish_reason": finish_reason}],
        "usage": usage or chat_usage(),
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }


def chat_chunk(model, delta, finish_reason=None, with_usage=False, id="chatcmpl-fake1"):
    chunk = {"id": id, "object": "chat.completion.chunk", "created": 1730000000, "model": model,
             "service_tier": "default", "system_fingerprint": "fp_fake",
             "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
    if with_usage:
        chunk["usage"] = None
    return chunk


def chat_stream(model, pieces, with_usage=True, usage=None, finish_reason="stop"):
    """The event sequence OpenAI sends: role delta, content deltas, finish chunk, usage chunk, [DONE]."""
    events = [sse(chat_chunk(model, {"role": "assistant", "content": "", "refusal": None}, with_usage=with_usage))]
    events += [sse(chat_chunk(model, {"content": p}, with_usage=with_usage)) for p in pieces]
    events.append(sse(chat_chunk(model, {}, finish_reason, with_usage=with_usage)))
    if with_usage:
        events.append(sse({"id": "chatcmpl-fake1", "object": "chat.completion.chunk", "created": 1730000000,
                           "model": model, "service_tier": "default", "system_fingerprint": "fp_fake",
                           "choices": [], "usage": usage or chat_usage(completion=len(pieces))}))
    events.append(b"data: [DONE]\n\n")
    return events


def openai_error(status, message, type="invalid_request_error", code=None, param=None):
    return {"error": {"message": message, "type": type, "param": param, "code": code}}
