"""A fake provider for the agent CLIs: it answers in whichever format the path names (chat, messages,
gemini, responses), and plays one agent turn from what the request holds:

- a tool result carrying the command's output (`PROOF`) -> the final text, `Tool said: <PROOF>`;
- a prompt asking for the tool (`ASK_TOOL`) -> a call of the client's own shell tool (found among
  the tools the request offers) running `COMMAND`, which prints `PROOF` and writes it to a file;
- anything else -> `REPLY`.

The command's text does not contain `PROOF` (printf builds it), so `PROOF` in a request can
only come from the tool's output."""

import json

from tests.support import gemini_wire, wire
from tests.support.fake_upstream import FakeUpstream, Reply

ASK_TOOL = "Use your shell tool to run this exact command"
COMMAND = "printf 'plexus-%d\\n' 42 | tee proof.txt"  # no $(...): Gemini CLI refuses command substitution
PROOF = "plexus-42"
REPLY = "Hello from the fake upstream"
SHELL_TOOLS = {"exec_command": "cmd", "Bash": "command", "run_shell_command": "command", "shell": "command"}


def offered_tools(body, kind):
    tools = body.get("tools") or []
    if kind == "gemini":
        return [d.get("name") for t in tools for d in t.get("functionDeclarations") or ()]
    if kind == "chat":
        return [(t.get("function") or {}).get("name") for t in tools]
    return [t.get("name") for t in tools]


def kind_of(path):
    path = path.split("?")[0]
    if path.endswith("/chat/completions"):
        return "chat"
    if path.endswith("/messages"):
        return "messages"
    if path.endswith("/responses"):
        return "responses"
    if path.endswith((":generateContent", ":streamGenerateContent")):
        return "gemini"
    return None


class AgentUpstream(FakeUpstream):
    def default_reply(self, seen):
        kind, body = kind_of(seen.path), seen.body if isinstance(seen.body, dict) else {}
        if kind is None:
            return super().default_reply(seen)
        text = json.dumps(body)
        tool = next((t for t in offered_tools(body, kind) if t in SHELL_TOOLS), None)
        if PROOF in text:
            return answer(kind, seen, body, text=f"Tool said: {PROOF}")
        if ASK_TOOL in text and tool:
            return answer(kind, seen, body, call=(tool, {SHELL_TOOLS[tool]: COMMAND, "description": "print the proof"}))
        return answer(kind, seen, body, text=REPLY)


def answer(kind, seen, body, text=None, call=None):
    model = body.get("model", "fake")
    stream = body.get("stream") or "streamGenerateContent" in seen.path
    if call:
        name, args = call
        if name == "exec_command":
            args = {"cmd": args["cmd"]}
    if kind == "chat":
        calls = [("call_plexus_1", *call)] if call else ()
        if stream:
            return Reply(events=wire.chat_stream_full(model, content=wire.split(text or ""), tool_calls=calls))
        return Reply(body=wire.chat_completion_full(model, text, tool_calls=calls))
    if kind == "messages":
        blocks = [wire.tool_use_block("toolu_plexus_1", *call)] if call else [wire.text_block(text)]
        stop = "tool_use" if call else "end_turn"
        if stream:
            return Reply(events=wire.anthropic_stream(model, blocks, stop_reason=stop))
        return Reply(body=wire.anthropic_message(model, blocks, stop_reason=stop))
    if kind == "gemini":
        calls = [gemini_wire.call(*call)] if call else ()
        if stream:
            return Reply(events=gemini_wire.stream([] if call else [text], calls=calls))
        return Reply(body=gemini_wire.response(list(calls) or [gemini_wire.text(text)]))
    item = (wire.responses_function_call_item("call_plexus_1", *call) if call else wire.responses_message_item(text))
    if stream:
        return Reply(events=wire.responses_stream(model, [item], usage=wire.responses_usage(), id="resp_fake_agent"))
    return Reply(body=wire.responses_response(model, [item], usage=wire.responses_usage(), id="resp_fake_agent"))
