"""`python -m plexus try`: the shared end-to-end gateway (gunicorn) in front of a fake chat upstream, asked in every
client style, streamed and not, with a tool and an image; what it prints and its exit status."""

import io
import json
import subprocess
import sys

import pytest

from plexus import tryout
from tests.support import wire
from tests.support.gateway_process import ROOT
from tests.support.secrets import ADMIN_SECRET, CLIENT_SECRET

STYLES = ("chat", "messages", "responses", "gemini")


def run_try(gateway, *argv, admin=True):
    out, err = io.StringIO(), io.StringIO()
    args = ["fast", "--url", gateway.url, "--key", CLIENT_SECRET, *argv]
    if admin:
        args += ["--admin-key", ADMIN_SECRET]
    code = tryout.main(args, out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("style", STYLES)
def test_every_style_prints_the_answer_and_a_summary(gateway, fake, style, stream):
    code, out, err = run_try(gateway, "--style", style, *(["--stream"] if stream else []))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "Hello from fake"
    summary = lines[-1]
    assert summary.startswith("-- status=200 request_id=")
    fields = dict(part.split("=", 1) for part in summary[3:].split())
    tokens_in, tokens_out = int(fields["tokens_in"]), int(fields["tokens_out"])
    assert tokens_in == 12 and tokens_out in (3, 5)  # the fake's usage: 5 in an answer, 3 in a stream
    # the usage record's cost, read back through the management API: $1/M input, $2/M output
    assert fields["cost"] == f"${(tokens_in * 1.0 + tokens_out * 2.0) / 1e6:.6f}"
    sent = fake.last.body
    assert sent["model"] == "up-model" and sent["messages"][-1]["content"] == "Say hello in five words or fewer."
    assert bool(sent.get("stream")) is stream


@pytest.mark.parametrize("style", STYLES)
def test_a_tool_call_is_printed_with_its_arguments(gateway, fake, style):
    call = ("call_1", "get_weather", '{"city":"Paris"}')
    fake.reply(events=wire.chat_stream_full("up-model", tool_calls=[call]))
    code, out, err = run_try(gateway, "--style", style, "--stream", "--tool")
    assert code == 0, err
    calls = [line for line in out.splitlines() if line.startswith("[tool call] ")]
    assert len(calls) == 1 and calls[0].startswith("[tool call] get_weather(") and calls[0].endswith(")")
    assert json.loads(calls[0][len("[tool call] get_weather("):-1]) == {"city": "Paris"}
    tools = fake.last.body["tools"]
    assert [t["function"]["name"] for t in tools] == ["get_weather"]
    assert fake.last.body["messages"][-1]["content"] == "What is the weather in Paris? Use the tool."


@pytest.mark.parametrize("style", STYLES)
def test_an_image_reaches_the_upstream_as_an_image(gateway, fake, style):
    code, out, err = run_try(gateway, "--style", style, "--image")
    assert code == 0, err
    parts = fake.last.body["messages"][-1]["content"]
    images = [p for p in parts if p["type"] == "image_url"]
    assert len(images) == 1 and images[0]["image_url"]["url"].startswith("data:image/png;base64,iVBORw0KGgo")


def test_reasoning_is_marked(gateway, fake):
    fake.reply(events=wire.chat_stream_full("up-model", content=["It is red."], reasoning=["Looking at pixels."],
                                             finish_reason="stop"))
    code, out, err = run_try(gateway, "--style", "messages", "--stream")
    assert code == 0, err
    assert out.splitlines()[:2] == ["[reasoning] Looking at pixels.", "It is red."]


@pytest.mark.parametrize("style", STYLES)
def test_a_gateway_error_exits_non_zero_with_its_message(gateway, style):
    out, err = io.StringIO(), io.StringIO()
    code = tryout.main(["no-such-alias", "--style", style, "--url", gateway.url, "--key", CLIENT_SECRET], out, err)
    assert code == 1
    assert "error: 404: " in err.getvalue() and "no-such-alias" in err.getvalue()


def test_a_wrong_key_exits_non_zero(gateway):
    out, err = io.StringIO(), io.StringIO()
    code = tryout.main(["fast", "--url", gateway.url, "--key", "sk-wrong"], out, err)
    assert code == 1 and "error: 401: Invalid API key" in err.getvalue()


def test_an_error_inside_the_stream_exits_non_zero(gateway, fake):
    fake.reply(events=wire.chat_stream("up-model", ["Hel", "lo"], with_usage=False), cut_after=2)
    code, out, err = run_try(gateway, "--style", "messages", "--stream")
    assert code == 1
    assert "error: in the stream:" in err


def test_own_payload_file(gateway, fake, tmp_path):
    payload = tmp_path / "mine.json"
    payload.write_text('{"model": "x", "messages": [{"role": "user", "content": "mine"}], "temperature": 0.5}')
    code, out, err = run_try(gateway, "--payload", str(payload))
    assert code == 0, err
    assert fake.last.body["messages"] == [{"role": "user", "content": "mine"}]
    assert fake.last.body["temperature"] == 0.5


def test_no_gateway_listening_is_an_error(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    code = tryout.main(["fast", "--url", "http://127.0.0.1:9", "--key", "k"], out, err)
    assert code == 1 and "ConnectionError" in err.getvalue()


def test_runs_as_a_module_command(gateway, fake):
    """The documented command line, as a user runs it (key from $PLEXUS_KEY, no admin key: no cost)."""
    env = {"PLEXUS_KEY": CLIENT_SECRET, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "plexus", "try", "fast", "--style", "messages", "--stream",
                           "--url", gateway.url], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "Hello from fake"
    assert "status=200" in done.stdout and "cost=" not in done.stdout
