"""Provider wire formats for fakes, after the real APIs (see ../shared/docs/wire-formats.md)."""

import json
import re


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


# ---- OpenAI Chat Completions: tool calls and reasoning -------------------------------------------


def chat_tool_call(id, name, arguments):
    """One entry of `message.tool_calls`; `arguments` is sent as a JSON string, as OpenAI does."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments, separators=(",", ":"))
    return {"id": id, "type": "function", "function": {"name": name, "arguments": args}}


def chat_completion_full(model, content=None, tool_calls=(), reasoning_content=None, finish_reason=None, usage=None,
                         id="chatcmpl-fake1"):
    """A non-streamed answer with tool calls and/or DeepSeek-style `reasoning_content`.
    `tool_calls` holds (id, name, arguments) triples; finish_reason defaults from the content."""
    body = chat_completion(model, content, usage, finish_reason or ("tool_calls" if tool_calls else "stop"), id)
    message = body["choices"][0]["message"]
    if tool_calls:
        message["tool_calls"] = [chat_tool_call(*c) for c in tool_calls]
    if reasoning_content is not None:
        message["reasoning_content"] = reasoning_content
    return body


def split(text, n=3):
    """`text` cut into `n` consecutive non-empty pieces (fewer if it is shorter), like a model streams it."""
    if not text:
        return []
    n = max(1, min(n, len(text)))
    size = -(-len(text) // n)
    return [text[i:i + size] for i in range(0, len(text), size)]


def chat_stream_full(model, content=(), tool_calls=(), reasoning=(), finish_reason=None, usage=None, with_usage=True,
                     arg_pieces=3, id="chatcmpl-fake1"):
    """A streamed answer with reasoning, text and tool calls, in the order a model sends them.

    - `reasoning` pieces come first as DeepSeek sends them: `{"content": null, "reasoning_content": piece}`.
    - `content` pieces as `{"content": piece}`.
    - each of `tool_calls` ((id, name, arguments) triples) at its own `index` 0, 1, ...: a first
      fragment with id, type, name and `arguments: ""`, then only index + argument pieces; all of
      call 0's fragments before call 1's.
    - one finish chunk (`tool_calls` when there were calls), then the usage chunk when `with_usage`,
      then `[DONE]`.
    """

    def chunk(delta, reason=None):
        return sse(chat_chunk(model, delta, reason, with_usage=with_usage, id=id))

    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [chunk({"content": None, "reasoning_content": p}) for p in reasoning]
    events += [chunk({"content": p}) for p in content]
    for i, (call_id, name, arguments) in enumerate(tool_calls):
        args = chat_tool_call(call_id, name, arguments)["function"]["arguments"]
        events.append(chunk({"tool_calls": [{"index": i, "id": call_id, "type": "function",
                                             "function": {"name": name, "arguments": ""}}]}))
        events += [chunk({"tool_calls": [{"index": i, "function": {"arguments": p}}]}) for p in split(args, arg_pieces)]
    events.append(chunk({}, finish_reason or ("tool_calls" if tool_calls else "stop")))
    if with_usage:
        events.append(sse({"id": id, "object": "chat.completion.chunk", "created": 1730000000, "model": model,
                           "service_tier": "default", "system_fingerprint": "fp_fake", "choices": [],
                           "usage": usage or chat_usage()}))
    events.append(b"data: [DONE]\n\n")
    return events


# ---- Anthropic Messages ----------------------------------------------------------------------------
# Shapes after anthropic-sdk-python `types/{message,usage,message_delta_usage,raw_*_event}.py` and the
# API's own streams (wire-formats.md §2).

ANTHROPIC_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                         404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
                         500: "api_error", 529: "overloaded_error"}


def anthropic_usage(input=20, output=10, cache_read=0, cache_creation=0, service_tier="standard"):
    """`usage` of a message. `input` excludes the cached tokens, as Anthropic counts them."""
    return {
        "input_tokens": input,
        "cache_creation_input_tokens": cache_creation,
        "cache_read_input_tokens": cache_read,
        "cache_creation": {"ephemeral_5m_input_tokens": cache_creation, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output,
        "service_tier": service_tier,
    }


def text_block(text):
    return {"type": "text", "text": text}


def thinking_block(thinking, signature="EqQBCgIYAhIMfakeSignature0001"):
    return {"type": "thinking", "thinking": thinking, "signature": signature}


def tool_use_block(id, name, input):
    return {"type": "tool_use", "id": id, "name": name, "input": input}


def anthropic_message(model, content_blocks, stop_reason="end_turn", usage=None, id="msg_01FakeUpstream0001",
                      stop_sequence=None):
    """A non-streamed Messages answer."""
    return {
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [dict(b) for b in content_blocks],
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": usage or anthropic_usage(),
    }


def anthropic_event(data):
    """One SSE event with the `event:` line equal to `data.type`, as Anthropic always sends."""
    return sse(data, event=data["type"])


PING = b'event: ping\ndata: {"type": "ping"}\n\n'  # byte for byte what the API sends


def anthropic_stream(model, content_blocks, stop_reason="end_turn", usage=None, id="msg_01FakeUpstream0001",
                     stop_sequence=None, pieces=3, delta_usage="output"):
    """The event sequence of the same answer `anthropic_message` builds, streamed.

    message_start (the whole message with `content: []`, `stop_reason: null`, the usage with
    `output_tokens: 1`); per block, one after the other, content_block_start (empty text/thinking,
    `input: {}`), deltas, content_block_stop; a ping after the first content_block_start;
    message_delta (stop reason, cumulative usage); message_stop.

    Text and thinking are cut into `pieces`; a thinking block then gets one signature_delta; a
    tool_use block's input JSON is sent as input_json_delta fragments, the first one "".
    `delta_usage="output"` puts only `output_tokens` in message_delta (the documented form);
    "full" adds the input and cache counts, as newer streams do.
    """
    usage = usage or anthropic_usage()
    start_usage = {**usage, "output_tokens": 1}
    message = anthropic_message(model, [], None, start_usage, id)
    events = [anthropic_event({"type": "message_start", "message": message})]
    for index, block in enumerate(content_blocks):
        kind = block["type"]
        start = dict(block)
        deltas = []
        if kind == "text":
            start["text"] = ""
            deltas = [{"type": "text_delta", "text": p} for p in split(block["text"], pieces)]
        elif kind == "thinking":
            start.update(thinking="", signature="")
            deltas = [{"type": "thinking_delta", "thinking": p} for p in split(block["thinking"], pieces)]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "tool_use":
            start["input"] = {}
            fragments = [""] + split(json.dumps(block["input"]), pieces)
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in fragments]
        events.append(anthropic_event({"type": "content_block_start", "index": index, "content_block": start}))
        if index == 0:
            events.append(PING)
        events += [anthropic_event({"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
        events.append(anthropic_event({"type": "content_block_stop", "index": index}))
    if delta_usage == "full":
        final = {k: usage[k] for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
                                       "output_tokens")}
    else:
        final = {"output_tokens": usage["output_tokens"]}
    events.append(anthropic_event({"type": "message_delta",
                                   "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
                                   "usage": final}))
    events.append(anthropic_event({"type": "message_stop"}))
    return events


def anthropic_error(status, type=None, message="Internal server error", request_id="req_011FakeRequest0001"):
    """Anthropic's error body; `type` defaults to the one Anthropic uses for `status`."""
    kind = type or ANTHROPIC_ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}


def parse_sse(raw):
    """(event name or None, data) for each event of a whole SSE body. LF, CRLF and CR end lines;
    comment lines are skipped; multi-line `data:` is joined with "\\n"."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    events, name, data = [], None, []
    for line in re.split(r"\r\n|\r|\n", text):
        if not line:
            if data or name is not None:
                events.append((name, "\n".join(data)))
            name, data = None, []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    if data:
        events.append((name, "\n".join(data)))
    return events


def chat_stream_error(raw):
    """The error object a Chat Completions stream ended with: its last event, and no `[DONE]`."""
    events = parse_sse(raw)
    assert events and "[DONE]" not in [data for _, data in events], raw[-300:]
    return json.loads(events[-1][1])["error"]


# ---- OpenAI Responses --------------------------------------------------------------------------------
# Shapes after openai-python `types/responses/{response,response_usage,response_output_message,
# response_function_tool_call,response_reasoning_item,response_*_event}.py` and recorded streams
# (wire-formats.md §3): every event named by an `event:` line equal to its `type`, with a
# `sequence_number` counting from 0; `response.created` first, a terminal `response.*` event last.


def responses_usage(input=12, output=5, cached=0, reasoning=0):
    """`usage` of a response. `input` INCLUDES the cached tokens and `output` the reasoning ones."""
    return {"input_tokens": input, "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": output, "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": input + output}


def responses_message_item(text, id="msg_fake1", status="completed"):
    """An assistant `message` output item with one `output_text` part (none while in progress); an
    incomplete response's message is `incomplete`."""
    content = [] if status == "in_progress" else [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {"id": id, "type": "message", "status": status, "content": content, "role": "assistant"}


def responses_function_call_item(call_id, name, arguments, id="fc_fake1", status="completed"):
    """A `function_call` output item; `arguments` (a dict or a JSON string) goes as a JSON string."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments, separators=(",", ":"))
    return {"id": id, "type": "function_call", "status": status, "arguments": args, "call_id": call_id, "name": name}


def responses_reasoning_item(summary, id="rs_fake1", encrypted_content=None):
    """A `reasoning` output item with its summary text (and `encrypted_content` when it was asked for)."""
    item = {"id": id, "type": "reasoning", "summary": [{"type": "summary_text", "text": summary}] if summary else []}
    if encrypted_content is not None:
        item["encrypted_content"] = encrypted_content
    return item


def responses_response(model, output=(), usage=None, status="completed", incomplete_reason=None, id="resp_fake1",
                       created_at=1730000000, **fields):
    """A whole `response` object: every field the SDK model requires, the echo of the request's
    settings (override any with `fields`), the output items, `usage`. A status of `incomplete`
    carries `incomplete_details.reason` (`max_output_tokens` or `content_filter`)."""
    body = {
        "id": id, "object": "response", "created_at": created_at, "status": status, "background": False,
        "error": None,
        "incomplete_details": {"reason": incomplete_reason or "max_output_tokens"} if status == "incomplete" else None,
        "instructions": None, "max_output_tokens": None, "model": model, "output": [dict(i) for i in output],
        "parallel_tool_calls": True, "previous_response_id": None, "reasoning": {"effort": None, "summary": None},
        "store": False, "temperature": 1.0, "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto", "tools": [], "top_p": 1.0, "truncation": "disabled", "usage": usage,
        "user": None, "metadata": {},
    }
    body.update(fields)
    return body


def responses_event(data):
    return sse(data, event=data["type"])


def responses_stream(model, output=(), usage=None, status="completed", incomplete_reason=None, id="resp_fake1",
                     pieces=3, **fields):
    """The event sequence OpenAI streams for the response `responses_response` builds with the same
    arguments: `response.created` and `response.in_progress` (status in_progress, no output, no
    usage), then per output item, at its `output_index`:

    - message: output_item.added (content [], in_progress) → content_part.added (empty output_text)
      → output_text.delta × pieces → output_text.done → content_part.done → output_item.done
    - function_call: output_item.added (arguments "", in_progress) → function_call_arguments.delta
      × pieces → function_call_arguments.done (with the name) → output_item.done
    - reasoning: output_item.added (summary []) → reasoning_summary_part.added →
      reasoning_summary_text.delta × pieces → reasoning_summary_text.done →
      reasoning_summary_part.done → output_item.done

    then `response.completed` (or `response.incomplete`) with the whole response and its usage.
    `sequence_number` counts every event from 0."""
    seq = iter(range(1 << 30))
    events = []

    def emit(type_, **data):
        events.append(responses_event({"type": type_, "sequence_number": next(seq), **data}))

    final = responses_response(model, output, usage, status, incomplete_reason, id, **fields)
    shell = {**final, "status": "in_progress", "incomplete_details": None, "output": [], "usage": None}
    emit("response.created", response=shell)
    emit("response.in_progress", response=shell)
    for index, item in enumerate(final["output"]):
        at = {"item_id": item["id"], "output_index": index}
        kind = item["type"]
        if kind == "message":
            emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress", "content": []})
            for ci, part in enumerate(item["content"]):
                empty = {**part, "text": ""}
                emit("response.content_part.added", **at, content_index=ci, part=empty)
                for p in split(part["text"], pieces):
                    emit("response.output_text.delta", **at, content_index=ci, delta=p, logprobs=[])
                emit("response.output_text.done", **at, content_index=ci, text=part["text"], logprobs=[])
                emit("response.content_part.done", **at, content_index=ci, part=part)
        elif kind == "function_call":
            emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress", "arguments": ""})
            for p in split(item["arguments"], pieces):
                emit("response.function_call_arguments.delta", **at, delta=p)
            emit("response.function_call_arguments.done", **at, name=item["name"], arguments=item["arguments"])
        elif kind == "reasoning":
            emit("response.output_item.added", output_index=index,
                 item={k: v for k, v in item.items() if k != "encrypted_content"} | {"summary": []})
            for si, part in enumerate(item["summary"]):
                emit("response.reasoning_summary_part.added", **at, summary_index=si, part={**part, "text": ""})
                for p in split(part["text"], pieces):
                    emit("response.reasoning_summary_text.delta", **at, summary_index=si, delta=p)
                emit("response.reasoning_summary_text.done", **at, summary_index=si, text=part["text"])
                emit("response.reasoning_summary_part.done", **at, summary_index=si, part=part)
        emit("response.output_item.done", output_index=index, item=item)
    emit("response.incomplete" if status == "incomplete" else "response.completed", response=final)
    return events
