"""The real agent CLIs through the real gateway (gunicorn) to a fake provider of each type: Codex
(WebSocket on and off), Claude Code and Gemini CLI, each with a one-shot prompt and a shell-tool
round trip. The CLIs are installed by tests/agents/run.sh (npm ci, versions pinned in
tests/agents/package-lock.json) and found through PLEXUS_AGENTS_DIR; without it this module skips.

Each run gets an empty home of its own, no network beyond 127.0.0.1, stdin closed and a timeout
(Codex retries for ever when it cannot reach the gateway)."""

import json
import os
import subprocess
from functools import partial
from pathlib import Path

import pytest

from tests.agents.agent_upstream import ASK_TOOL, COMMAND, PROOF, REPLY, AgentUpstream
from tests.support.gateways import alias, gateway_for, provider
from tests.support.secrets import CLIENT_SECRET

AGENTS = os.environ.get("PLEXUS_AGENTS_DIR")
BIN = Path(AGENTS or ".", "node_modules", ".bin")
RUN_TIMEOUT = 120

pytestmark = [pytest.mark.agents,
              pytest.mark.skipif(not AGENTS, reason="set PLEXUS_AGENTS_DIR (tests/agents/run.sh installs the CLIs)")]


@pytest.fixture(scope="module")
def upstream():
    with AgentUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def gateway(upstream, tmp_path_factory):
    config = {
        "keys": {"test": {"secret": "${PLEXUS_KEY_TEST}"}},
        "providers": {
            "chat": provider("chat", f"{upstream.url}/v1"),
            "messages": provider("messages", f"{upstream.url}/v1"),
            "gemini": provider("gemini", f"{upstream.url}/v1beta"),
            "responses": provider("responses", f"{upstream.url}/v1"),
        },
        "models": {f"agent-{kind}": alias(kind, f"up-{kind}") for kind in ("chat", "messages", "gemini", "responses")},
    }
    with gateway_for(config, tmp_path_factory.mktemp("agents-gateway")) as gw:
        yield gw


def codex(gw, home, prompt, kind, websocket, functions_only=False):
    """Codex as installed (its tools include a namespace and hosted web search, see README "Tools
    across providers"), or with only its function tools (web search and sub-agents switched off)."""
    (home / "codex").mkdir()
    top, tables = ('web_search = "disabled"\n', "\n[agents]\nenabled = false\n") if functions_only else ("", "")
    (home / "codex" / "config.toml").write_text(top + f"""\
model = "agent-{kind}"
model_provider = "plexus"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[model_providers.plexus]
name = "Plexus"
base_url = "{gw.url}/v1"
wire_api = "responses"
env_key = "PLEXUS_KEY"
request_max_retries = 0
stream_max_retries = 0
supports_websockets = {str(websocket).lower()}

[analytics]
enabled = false

[features]
plugins = false
""" + tables)
    env = {"CODEX_HOME": str(home / "codex"), "PLEXUS_KEY": CLIENT_SECRET}
    return ["codex", "exec", "--skip-git-repo-check", "--json", "--dangerously-bypass-approvals-and-sandbox", prompt], env


def claude(gw, home, prompt, kind, websocket):
    env = {"CLAUDE_CONFIG_DIR": str(home / "claude"), "ANTHROPIC_BASE_URL": gw.url, "ANTHROPIC_API_KEY": CLIENT_SECRET,
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1"}
    return ["claude", "-p", "--allowedTools", "Bash", "--model", f"agent-{kind}", prompt], env


def gemini(gw, home, prompt, kind, websocket):
    (home / "gemini" / ".gemini").mkdir(parents=True)
    (home / "gemini" / ".gemini" / "settings.json").write_text(json.dumps({"security": {"auth": {"selectedType": "gemini-api-key"}}}))
    env = {"GEMINI_CLI_HOME": str(home / "gemini"), "GOOGLE_GEMINI_BASE_URL": gw.url, "GEMINI_API_KEY": CLIENT_SECRET,
           "GEMINI_CLI_TRUST_WORKSPACE": "true"}
    return ["gemini", "-p", prompt, "-m", f"agent-{kind}", "--yolo"], env


CLIENTS = {"codex": codex, "codex-functions": partial(codex, functions_only=True), "claude": claude, "gemini": gemini}
CASES = ([("codex", kind, ws) for ws in (False, True) for kind in ("chat", "messages", "gemini", "responses")]
         + [("codex-functions", kind, ws) for ws in (False, True) for kind in ("chat", "messages", "gemini")]
         + [(client, kind, False) for client in ("claude", "gemini") for kind in ("chat", "messages", "gemini")])


def run_client(gw, tmp_path, client, kind, websocket, prompt):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    argv, env = CLIENTS[client](gw, home, prompt, kind, websocket)
    env = {"PATH": f"{BIN}:{os.environ['PATH']}", "HOME": str(home), "LANG": "C.UTF-8", "NO_COLOR": "1", **env}
    log_start = len(gw.log())
    try:
        done = subprocess.run(argv, cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{client} did not finish in {RUN_TIMEOUT}s:\n{e.stdout}\n{e.stderr}\n{gw.log()[log_start:]}")
    gateway_log = gw.log()[log_start:]
    assert done.returncode == 0, f"{client} exited {done.returncode}:\n{done.stdout}\n{done.stderr}\n{gateway_log}"
    opened = "websocket /v1/responses opened" in gateway_log
    assert opened == websocket, f"WebSocket used: {opened}, expected {websocket}\n{gateway_log}"
    return done, work, gateway_log


def ids(case):
    client, kind, ws = case
    return f"{client}-{kind}" + ("-ws" if ws else "")


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_one_shot_prompt(gateway, upstream, tmp_path, case):
    done, _, log = run_client(gateway, tmp_path, *case, "Say hello.")
    assert REPLY in done.stdout, f"{done.stdout}\n{done.stderr}\n{log}"


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_shell_tool_round_trip(gateway, upstream, tmp_path, case):
    """The fake asks for the client's own shell tool; the client runs it and sends the output back;
    the fake's final answer quotes it."""
    done, work, log = run_client(gateway, tmp_path, *case, f"{ASK_TOOL}: {COMMAND}")
    proof = work / "proof.txt"
    assert proof.exists() and proof.read_text().strip() == PROOF, f"{done.stdout}\n{done.stderr}\n{log}"
    assert f"Tool said: {PROOF}" in done.stdout, f"{done.stdout}\n{done.stderr}\n{log}"
