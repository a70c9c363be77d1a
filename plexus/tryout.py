"""`python -m plexus try ALIAS`: one ready-made request through a running gateway, in any client
style, streamed or not; prints the answer as it arrives (text, reasoning, tool calls) and then one
summary line. Exit status 0 on success, 1 on any error (with the gateway's own message).

The request bodies are JSON files in `config/payloads/` (one per style, plus `tool.json` and
`image.json` that `--tool` and `--image` add in each style's own way); `--payload FILE` sends a file
of your own instead (its `model`, where the style has one, is set to ALIAS)."""

import argparse
import copy
import os
import sys
import time
from pathlib import Path

import orjson
import requests

from .wire.error_body import parse_error_body
from .wire.sse import SSEDecoder

PAYLOADS = Path(__file__).resolve().parent.parent / "config" / "payloads"


class Printer:
    """Writes the answer's parts as they come: text as is, reasoning and tool calls marked."""

    def __init__(self, out):
        self.out, self.part = out, None

    def write(self, part, text):
        if not text:
            return
        if part != self.part:
            if self.part is not None:
                self.out.write("\n")
            if part == "reasoning":
                self.out.write("[reasoning] ")
            self.part = part
        self.out.write(text)
        self.out.flush()

    def tool_call(self, name, arguments):
        args = arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()
        self.write("tool", f"[tool call] {name}({args})")
        self.part = "tool-done"  # every call on its own line

    def end(self):
        if self.part is not None:
            self.out.write("\n")


class StreamError(Exception):
    """An error the gateway sent inside a stream that had already begun."""


# ---- the four client styles: request body, where it goes, and how to read the answer -------------


class Style:
    """What differs between the client styles; OpenAI's bearer-token defaults."""

    PATH = ""

    def url(self, alias, stream):
        return self.PATH

    def headers(self, key):
        return {"Authorization": f"Bearer {key}"}


class Chat(Style):
    PATH = "/v1/chat/completions"

    def body(self, payload, alias, stream, tool, image):
        payload["model"] = alias
        if stream:
            payload["stream"] = True
            payload.setdefault("stream_options", {"include_usage": True})
        if tool:
            payload["messages"][-1]["content"] = tool["prompt"]
            payload["tools"] = [{"type": "function", "function": _function(tool)}]
        if image:
            payload["messages"][-1]["content"] = [
                {"type": "text", "text": image["prompt"]},
                {"type": "image_url", "image_url": {"url": _data_url(image)}},
            ]
        return payload

    def read(self, data, printer):
        message = (data.get("choices") or [{}])[0].get("message") or {}
        printer.write("reasoning", message.get("reasoning_content") or message.get("reasoning"))
        printer.write("text", message.get("content"))
        for call in message.get("tool_calls") or []:
            printer.tool_call(call["function"]["name"], call["function"].get("arguments", ""))
        return _tokens(data.get("usage"), "prompt_tokens", "completion_tokens")

    def stream(self):
        return ChatStream()


class ChatStream:
    def __init__(self):
        self.calls, self.tokens = {}, None

    def feed(self, event, data, printer):
        if "error" in data:
            raise StreamError(_message(data))
        if data.get("usage"):
            self.tokens = _tokens(data["usage"], "prompt_tokens", "completion_tokens")
        for choice in data.get("choices") or []:
            delta = choice.get("delta") or {}
            printer.write("reasoning", delta.get("reasoning_content") or delta.get("reasoning"))
            printer.write("text", delta.get("content"))
            for call in delta.get("tool_calls") or []:
                name, args = self.calls.get(call.get("index", 0), ("", ""))
                fn = call.get("function") or {}
                self.calls[call.get("index", 0)] = (name + (fn.get("name") or ""), args + (fn.get("arguments") or ""))

    def end(self, printer):
        for name, args in self.calls.values():
            printer.tool_call(name, args)
        return self.tokens


class Messages(Style):
    PATH = "/v1/messages"

    def headers(self, key):
        return {"x-api-key": key, "anthropic-version": "2023-06-01"}

    def body(self, payload, alias, stream, tool, image):
        payload["model"] = alias
        if stream:
            payload["stream"] = True
        if tool:
            payload["messages"][-1]["content"] = tool["prompt"]
            payload["tools"] = [{"name": tool["name"], "description": tool["description"],
                                 "input_schema": tool["parameters"]}]
        if image:
            source = {"type": "base64", "media_type": image["media_type"], "data": image["data"]}
            payload["messages"][-1]["content"] = [{"type": "image", "source": source},
                                                  {"type": "text", "text": image["prompt"]}]
        return payload

    def read(self, data, printer):
        for block in data.get("content") or []:
            if block.get("type") == "thinking":
                printer.write("reasoning", block.get("thinking"))
            elif block.get("type") == "text":
                printer.write("text", block.get("text"))
            elif block.get("type") == "tool_use":
                printer.tool_call(block.get("name"), block.get("input"))
        return _anthropic_tokens(data.get("usage") or {})

    def stream(self):
        return MessagesStream()


class MessagesStream:
    def __init__(self):
        self.tool, self.usage = None, {}

    def feed(self, event, data, printer):
        kind = data.get("type")
        if kind == "error":
            raise StreamError(_message(data))
        if kind == "message_start":
            self.usage.update((data.get("message") or {}).get("usage") or {})
        elif kind == "message_delta":
            self.usage.update(data.get("usage") or {})
        elif kind == "content_block_start" and data["content_block"].get("type") == "tool_use":
            self.tool = [data["content_block"].get("name"), ""]
        elif kind == "content_block_delta":
            delta = data.get("delta") or {}
            printer.write("reasoning", delta.get("thinking"))
            printer.write("text", delta.get("text"))
            if self.tool is not None:
                self.tool[1] += delta.get("partial_json") or ""
        elif kind == "content_block_stop" and self.tool is not None:
            printer.tool_call(*self.tool)
            self.tool = None

    def end(self, printer):
        return _anthropic_tokens(self.usage) if self.usage else None


class Responses(Style):
    PATH = "/v1/responses"

    def body(self, payload, alias, stream, tool, image):
        payload["model"] = alias
        if stream:
            payload["stream"] = True
        if tool:
            payload["input"] = tool["prompt"]
            payload["tools"] = [{"type": "function", **_function(tool)}]
        if image:
            payload["input"] = [{"role": "user", "content": [
                {"type": "input_text", "text": image["prompt"]},
                {"type": "input_image", "image_url": _data_url(image)},
            ]}]
        return payload

    def read(self, data, printer):
        for item in data.get("output") or []:
            _response_item(item, printer, text=True)
        return _tokens(data.get("usage"), "input_tokens", "output_tokens")

    def stream(self):
        return ResponsesStream()


class ResponsesStream:
    def __init__(self):
        self.tokens = None

    def feed(self, event, data, printer):
        kind = data.get("type") or event
        if kind in ("error", "response.failed"):
            raise StreamError(_message(data.get("response") or data))
        if kind == "response.output_text.delta":
            printer.write("text", data.get("delta"))
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            printer.write("reasoning", data.get("delta"))
        elif kind == "response.output_item.done":
            _response_item(data.get("item") or {}, printer, text=False)
        elif kind in ("response.completed", "response.incomplete"):
            self.tokens = _tokens((data.get("response") or {}).get("usage"), "input_tokens", "output_tokens")

    def end(self, printer):
        return self.tokens


class Gemini(Style):
    def url(self, alias, stream):
        return f"/v1beta/models/{alias}:" + ("streamGenerateContent?alt=sse" if stream else "generateContent")

    def headers(self, key):
        return {"x-goog-api-key": key}

    def body(self, payload, alias, stream, tool, image):
        payload.pop("model", None)  # Gemini names the model in the URL
        if tool:
            payload["contents"][-1]["parts"] = [{"text": tool["prompt"]}]
            payload["tools"] = [{"functionDeclarations": [_function(tool)]}]
        if image:
            payload["contents"][-1]["parts"] = [
                {"inlineData": {"mimeType": image["media_type"], "data": image["data"]}},
                {"text": image["prompt"]},
            ]
        return payload

    def read(self, data, printer):
        if "error" in data:
            raise StreamError(_message(data))
        for candidate in data.get("candidates") or []:
            for part in (candidate.get("content") or {}).get("parts") or []:
                if "functionCall" in part:
                    printer.tool_call(part["functionCall"].get("name"), part["functionCall"].get("args") or {})
                else:
                    printer.write("reasoning" if part.get("thought") else "text", part.get("text"))
        return _tokens(data.get("usageMetadata"), "promptTokenCount", "candidatesTokenCount")

    def stream(self):
        return GeminiStream(self)


class GeminiStream:
    def __init__(self, style):
        self.style, self.tokens = style, None

    def feed(self, event, data, printer):
        self.tokens = self.style.read(data, printer) or self.tokens

    def end(self, printer):
        return self.tokens


STYLES = {"chat": Chat(), "messages": Messages(), "responses": Responses(), "gemini": Gemini()}


def _function(tool):
    return {"name": tool["name"], "description": tool["description"], "parameters": tool["parameters"]}


def _data_url(image):
    return f"data:{image['media_type']};base64,{image['data']}"


def _tokens(usage, input_name, output_name):
    if not isinstance(usage, dict):
        return None
    return usage.get(input_name), usage.get(output_name)


def _anthropic_tokens(usage):
    prompt = sum(usage.get(k) or 0 for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"))
    return prompt, usage.get("output_tokens")


def _response_item(item, printer, text):
    kind = item.get("type")
    if kind == "function_call":
        printer.tool_call(item.get("name"), item.get("arguments", ""))
    elif kind == "custom_tool_call":
        printer.tool_call(item.get("name"), item.get("input", ""))
    elif kind == "reasoning" and text:
        for part in (item.get("summary") or []) + (item.get("content") or []):
            printer.write("reasoning", part.get("text"))
    elif kind == "message" and text:
        for part in item.get("content") or []:
            printer.write("text", part.get("text"))


def _message(data):
    message, _, _ = parse_error_body(orjson.dumps(data))
    return message or orjson.dumps(data).decode()[:500]


# ---- running it ------------------------------------------------------------------------------------


def load_payload(style_name, path=None):
    with open(path or PAYLOADS / f"{style_name}.json", "rb") as f:
        return orjson.loads(f.read())


def build(args):
    """(style, path, body) for the parsed arguments."""
    style = STYLES[args.style]
    tool = load_payload("tool") if args.tool else None
    image = load_payload("image") if args.image else None
    payload = copy.deepcopy(load_payload(args.style, args.payload))
    return style, style.url(args.alias, args.stream), style.body(payload, args.alias, args.stream, tool, image)


def run(args, out=sys.stdout, err=sys.stderr):
    style, path, body = build(args)
    printer = Printer(out)
    headers = {**style.headers(args.key), "Content-Type": "application/json"}
    started = time.perf_counter()
    ttft = None
    try:
        resp = requests.post(args.url.rstrip("/") + path, data=orjson.dumps(body), headers=headers,
                             stream=args.stream, timeout=(10, args.timeout))
        with resp:
            if resp.status_code >= 400:
                message, _, _ = parse_error_body(resp.content)
                printer.end()
                print(f"error: {resp.status_code}: {message or resp.reason}", file=err)
                summary(err, resp, started, None, None, args)
                return 1
            if not args.stream:
                ttft = time.perf_counter() - started
                tokens = style.read(resp.json(), printer)
            else:
                reader, decoder = style.stream(), SSEDecoder()
                for chunk in resp.iter_content(chunk_size=None):
                    if ttft is None:
                        ttft = time.perf_counter() - started
                    feed(reader, decoder.feed(chunk), printer)
                feed(reader, decoder.close(), printer)
                tokens = reader.end(printer)
    except StreamError as e:
        printer.end()
        print(f"error: in the stream: {e}", file=err)
        return 1
    except (requests.RequestException, ValueError) as e:
        printer.end()
        print(f"error: {type(e).__name__}: {e}", file=err)
        return 1
    printer.end()
    summary(out, resp, started, ttft, tokens, args)
    return 0


def feed(reader, events, printer):
    for event in events:
        if event.data != b"[DONE]":
            reader.feed(event.event, orjson.loads(event.data), printer)


def summary(out, resp, started, ttft, tokens, args):
    request_id = resp.headers.get("x-request-id", "-")
    total = time.perf_counter() - started
    parts = [f"status={resp.status_code}", f"request_id={request_id}",
             f"ttft={ttft * 1000:.0f}ms" if ttft is not None else "ttft=-", f"total={total * 1000:.0f}ms"]
    if tokens:
        parts += [f"tokens_in={_n(tokens[0])}", f"tokens_out={_n(tokens[1])}"]
    cost = record_cost(args, request_id) if request_id != "-" else None
    if cost is not None:
        parts.append(f"cost=${cost:.6f}")
    print("-- " + " ".join(parts), file=out)


def _n(value):
    return "-" if value is None else str(value)


def record_cost(args, request_id, wait=3.0):
    """The cost of the request's usage record, read through the management API when an admin key is
    at hand (records are written off the request path, so wait a moment for it)."""
    if not args.admin_key:
        return None
    deadline = time.monotonic() + wait
    while True:
        try:
            resp = requests.get(args.url.rstrip("/") + "/v0/management/usage", timeout=5,
                                params={"request_id": request_id, "limit": 1},
                                headers={"x-admin-key": args.admin_key})
            rows = resp.json().get("data") if resp.ok else None
        except (requests.RequestException, ValueError):
            return None
        if rows or resp.status_code != 200 or time.monotonic() > deadline:
            return rows[0].get("cost") if rows else None
        time.sleep(0.1)


def parser():
    port = os.environ.get("PORT", "4000")
    p = argparse.ArgumentParser(prog="python -m plexus try",
                                description="Send a ready-made request through a running Plexus gateway.")
    p.add_argument("alias", help="the model alias to ask")
    p.add_argument("--style", choices=sorted(STYLES), default="chat", help="the client API style (default chat)")
    p.add_argument("--stream", action="store_true", help="ask for a streamed answer")
    p.add_argument("--tool", action="store_true", help="offer a tool (config/payloads/tool.json) and ask for it")
    p.add_argument("--image", action="store_true", help="attach an image (config/payloads/image.json)")
    p.add_argument("--payload", metavar="FILE", help="send this JSON body instead of the style's ready-made one")
    p.add_argument("--url", default=f"http://127.0.0.1:{port}", help="the gateway (default http://127.0.0.1:$PORT)")
    p.add_argument("--key", default=os.environ.get("PLEXUS_KEY"), help="the client key (default $PLEXUS_KEY)")
    p.add_argument("--admin-key", default=os.environ.get("PLEXUS_ADMIN_KEY"),
                   help="to show the request's cost from its usage record (default $PLEXUS_ADMIN_KEY)")
    p.add_argument("--timeout", type=float, default=300, help="seconds to wait for the answer (default 300)")
    return p


def main(argv, out=sys.stdout, err=sys.stderr):
    args = parser().parse_args(argv)
    if not args.key:
        print("error: no client key: pass --key or set PLEXUS_KEY", file=err)
        return 1
    try:
        return run(args, out, err)
    except (OSError, ValueError) as e:  # a payload file that cannot be read or is not JSON
        print(f"error: the payload: {e}", file=err)
        return 1
