"""Routing that knows the models (issue 16), through the app: what /v1/models reports, session
affinity, context-aware routing and failover, the selectors, empty answers."""

import json

import pytest

from tests.support.secrets import CLIENT_SECRET

AUTH = {"Authorization": f"Bearer {CLIENT_SECRET}"}


def config(a, b, models, providers=""):
    return f"""
admin_key: "${{PLEXUS_ADMIN_KEY}}"
keys: {{test: {{secret: "${{PLEXUS_KEY_TEST}}"}}}}
providers:
  a: {{type: chat, api_base_url: "{a}/v1", api_key: ka, timeouts: {{connect: 2, read: 5}},
      models: {{short: {{context_window: 1000}}, gpt-4o: {{pricing: {{input: 1, output: 1}}}}}}}}
  b: {{type: chat, api_base_url: "{b}/v1", api_key: kb, timeouts: {{connect: 2, read: 5}},
      models: {{long: {{context_window: 100000}}}}}}
{providers}
models:
{models}
"""


@pytest.fixture
def gateway(env, write_config, make_app, tmp_path):
    def make(a, b, models, providers=""):
        app = make_app(str(write_config(config(a, b, models, providers))), watch=False, DATABASE=str(tmp_path / "p.db"))
        records = []
        app.extensions["plexus"].sinks.append(records.append)
        return app, app.test_client(), records

    return make


def test_models_carry_the_context_window_and_max_output(gateway):
    _, client, _ = gateway("http://127.0.0.1:9", "http://127.0.0.1:9", """
  both: {targets: [{provider: a, model: short}, {provider: b, model: long}]}
  known: {targets: [{provider: a, model: gpt-4o-2024-08-06}]}
  unknown: {targets: [{provider: a, model: made-up}]}""")
    listed = {m["id"]: m for m in client.get("/v1/models", headers=AUTH).json["data"]}
    assert listed["both"]["context_length"] == listed["both"]["context_window"] == 100000
    assert listed["known"]["context_length"] == 128000 and listed["known"]["max_output_tokens"] == 16384
    assert listed["known"]["top_provider"] == {"context_length": 128000, "max_completion_tokens": 16384}
    assert set(listed["unknown"]) == {"id", "object", "created", "owned_by"}
    gemini = {m["displayName"]: m for m in client.get("/v1beta/models", headers={"x-goog-api-key": CLIENT_SECRET}).json["models"]}
    assert (gemini["known"]["inputTokenLimit"], gemini["known"]["outputTokenLimit"]) == (128000, 16384)
    assert "inputTokenLimit" not in gemini["unknown"]


def chat(client, model, content="hi", headers=None, **extra):
    body = {"model": model, "messages": [{"role": "user", "content": content}], **extra}
    return client.post("/v1/chat/completions", data=json.dumps(body), content_type="application/json",
                       headers={**AUTH, **(headers or {})})


@pytest.fixture
def fakes():
    from tests.support.fake_upstream import FakeUpstream

    with FakeUpstream() as a, FakeUpstream() as b:
        yield a, b


def seeded(app, seed=3):
    import random

    from plexus.core.routing import Router

    app.extensions["plexus"].router = Router(random.Random(seed))


PAIR = """
  pair: {selector: random, targets: [{provider: a, model: ma}, {provider: b, model: mb}]}
  pair-off: {selector: random, affinity: false, targets: [{provider: a, model: ma}, {provider: b, model: mb}]}"""


def claude_code_turn(client, session, n, alias="pair"):
    body = {"model": alias, "max_tokens": 100, "messages": [{"role": "user", "content": f"turn {n}"}],
            "metadata": {"user_id": f"user_abc_account__session_{session}"}}
    return client.post("/v1/messages", data=json.dumps(body), content_type="application/json",
                       headers={"x-api-key": CLIENT_SECRET, "x-claude-code-session-id": session})


def codex_turn(client, session, n, alias="pair"):
    body = {"model": alias, "input": [{"role": "user", "content": f"turn {n}"}], "store": False,
            "prompt_cache_key": session}
    return client.post("/v1/responses", data=json.dumps(body), content_type="application/json",
                       headers={**AUTH, "session-id": session})


def sdk_turn(client, session, n, alias="pair"):
    return chat(client, alias, f"turn {n}", prompt_cache_key=session)


@pytest.mark.parametrize("turn", [claude_code_turn, codex_turn, sdk_turn], ids=["claude-code", "codex", "openai-sdk"])
def test_a_two_turn_conversation_stays_on_one_target(gateway, fakes, turn):
    a, b = fakes
    app, client, records = gateway(a.url, b.url, PAIR)
    seeded(app)
    firsts = set()
    for s in range(8):
        session = f"0199aaaa-{s:04d}-7000-8000-{turn.__name__[:6]}"
        assert turn(client, session, 1).status_code == 200
        assert turn(client, session, 2).status_code == 200
        first, second = records[-2].provider, records[-1].provider
        assert first == second, f"session {s} moved from {first} to {second}"
        firsts.add(first)
    assert firsts == {"a", "b"}  # the selector still spreads sessions


def test_affinity_can_be_switched_off_and_a_failed_sticky_target_moves_the_session(gateway, fakes):
    a, b = fakes
    app, client, records = gateway(a.url, b.url, PAIR)
    seeded(app)
    landed = set()
    for n in range(12):
        assert sdk_turn(client, "one-session", n, alias="pair-off").status_code == 200
        landed.add(records[-1].provider)
    assert landed == {"a", "b"}
    sdk_turn(client, "s1", 1)
    sticky, other = (a, b) if records[-1].provider == "a" else (b, a)
    from tests.support import wire

    sticky.reply(status=503, body=wire.openai_error(503, "overloaded", "server_error"))
    assert sdk_turn(client, "s1", 2).status_code == 200
    moved_to = records[-1].provider
    assert moved_to != records[-2].provider
    app.extensions["plexus"].cooldowns.clear()
    for n in range(3, 6):  # the session now stays where it moved, although the old target is healthy again
        assert sdk_turn(client, "s1", n).status_code == 200 and records[-1].provider == moved_to


def test_affinity_is_shared_through_the_database(gateway, fakes):
    a, b = fakes
    app, client, records = gateway(a.url, b.url, PAIR)
    gw = app.extensions["plexus"]
    sdk_turn(client, "shared", 1)
    gw.affinity.sync()
    from plexus.core.affinity import Affinity

    other = Affinity(app.extensions["plexus.services"].storage.affinity)
    other.sync()
    digest = next(iter(gw.affinity._entries))
    assert other.target(digest) == (records[-1].provider, records[-1].model)


LONG = """
  ctx: {selector: in_order, targets: [{provider: a, model: short}, {provider: b, model: long}]}"""


def test_an_over_long_prompt_goes_to_the_long_context_target(gateway, fakes):
    a, b = fakes
    app, client, records = gateway(a.url, b.url, LONG)
    assert chat(client, "ctx", "short question").status_code == 200 and records[-1].provider == "a"
    assert chat(client, "ctx", "word " * 2000).status_code == 200  # ~2,500 tokens > the 1,000 window of `short`
    assert records[-1].provider == "b" and len(a.requests) == 1
    assert records[-1].skipped == [{"provider": "a", "model": "short", "reason": "context",
                                    "detail": records[-1].skipped[0]["detail"]}]
    resp = chat(client, "ctx", "word " * 200_000)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "context_length_exceeded"
    assert "largest context window available is 100000 tokens" in resp.json["error"]["message"]
    assert len(b.requests) == 1  # nothing was sent


@pytest.mark.parametrize("message,code", [
    ("This model's maximum context length is 1000 tokens. However, your messages resulted in 1204 tokens. "
     "Please reduce the length of the messages.", "context_length_exceeded"),
    ("prompt is too long: 208310 tokens > 200000 maximum", None),
    ("The input token count (1258291) exceeds the maximum number of tokens allowed (1048576).", None),
])
def test_an_upstream_saying_the_context_is_exceeded_fails_over(gateway, fakes, message, code):
    from tests.support import wire

    a, b = fakes
    app, client, records = gateway(a.url, b.url, LONG)
    a.reply(status=400, body=wire.openai_error(400, message, code=code))
    assert chat(client, "ctx", "fits by the estimate").status_code == 200
    assert [x["provider"] for x in records[-1].attempts] == ["a", "b"]
    assert app.extensions["plexus"].cooldowns.active() == []  # the target is fine, the prompt was not
    b.reply(status=400, body=wire.openai_error(400, message, code=code))
    a.reply(status=400, body=wire.openai_error(400, message, code=code))
    resp = chat(client, "ctx", "fits by the estimate")
    assert resp.status_code == 400 and "largest context window available is 100000" in resp.json["error"]["message"]


SELECTORS = """
  busy: {selector: least_busy, targets: [{provider: a, model: ma}, {provider: b, model: mb}]}
  fast: {selector: latency, targets: [{provider: a, model: ma}, {provider: b, model: mb}]}
  cheap: {selector: cost, targets: [{provider: a, model: made-up}, {provider: a, model: gpt-4o}, {provider: b, model: gpt-4o-mini}]}"""


def test_least_busy_picks_the_target_with_fewest_in_flight_across_workers(gateway, fakes):
    a, b = fakes
    app, client, records = gateway(a.url, b.url, SELECTORS)
    stats = app.extensions["plexus"].target_stats
    stats._others = {("a", "ma"): (3, [])}  # another worker has three requests at a
    for _ in range(5):
        assert chat(client, "busy").status_code == 200 and records[-1].provider == "b"
    stats._others = {("b", "mb"): (2, [])}
    assert chat(client, "busy").status_code == 200 and records[-1].provider == "a"


def test_least_busy_counts_requests_while_they_run_in_every_worker(gateway, fakes):
    from plexus.core.target_stats import TargetStats

    app, _, _ = gateway(*(f.url for f in fakes), SELECTORS)
    store = app.extensions["plexus.services"].storage.target_stats
    one, two = TargetStats(store, worker="w1"), TargetStats(store, worker="w2")
    one.started(("a", "ma"))
    one.started(("a", "ma"))
    one.ended(("a", "ma"))
    two.started(("a", "ma"))
    two.first_byte(("a", "ma"), 200.0)
    one.sync(), two.sync(), one.sync()
    assert one.in_flight(("a", "ma")) == 2 and two.in_flight(("a", "ma")) == 2 and one.in_flight(("b", "mb")) == 0
    assert one.ttft_ms(("a", "ma")) == 200.0


def test_latency_prefers_the_lowest_recent_time_to_first_byte(gateway, fakes):
    a, b = fakes
    app, client, records = gateway(a.url, b.url, SELECTORS)
    stats = app.extensions["plexus"].target_stats
    stats.first_byte(("a", "ma"), 900.0)
    stats.first_byte(("b", "mb"), 100.0)
    for _ in range(3):
        assert chat(client, "fast").status_code == 200 and records[-1].provider == "b"
    for _ in range(8):  # b slows down: its decaying average passes a's
        stats.first_byte(("b", "mb"), 5000.0)
    assert chat(client, "fast").status_code == 200 and records[-1].provider == "a"


def test_cost_picks_the_cheapest_priced_target_for_the_token_mix(gateway, fakes):
    a, b = fakes
    app, client, records = gateway(a.url, b.url, SELECTORS)
    config = app.extensions["plexus"].config
    # gpt-4o at a: the config's 1/1 USD; gpt-4o-mini at b: the catalog's 0.15/0.60; made-up: no price (last)
    for _ in range(4):
        assert chat(client, "cheap").status_code == 200 and (records[-1].provider, records[-1].model) == ("b", "gpt-4o-mini")
    assert records[-1].attempts and len(a.requests) == 0
    from plexus.core.routing import Need, Router

    order = [t.model for t in Router().order(config.aliases["cheap"], config, Need(prompt_tokens=1000))]
    assert order == ["gpt-4o-mini", "gpt-4o", "made-up"]


def test_the_dashboard_shows_selector_affinity_windows_price_sources_and_skips(gateway, fakes):
    from tests.support.dashboard import Admin

    a, b = fakes
    app, client, records = gateway(a.url, b.url, LONG + """
  cheap: {selector: cost, affinity: false, targets: [{provider: b, model: gpt-4o-mini}, {provider: a, model: gpt-4o}]}""")
    assert chat(client, "ctx", "word " * 2000).status_code == 200
    app.extensions["plexus.services"].writer.flush()
    admin = Admin(app.test_client())
    assert admin.login().status_code == 303
    models = admin.get("/models").get_data(as_text=True)
    assert "sessions stick for 3600 s" in models and "no session affinity" in models
    assert "cost — cheapest for the request" in models
    assert "1,000 tokens" in models and "100,000 tokens" in models and "128,000 tokens" in models
    assert "price: config" in models and 'title="catalog:genai-prices@0.2.3">price: catalog' in models
    providers = admin.get("/providers").get_data(as_text=True)
    assert 'title="catalog:genai-prices@0.2.3">catalog' in providers  # gpt-4o-mini at b, priced by the catalog
    detail = admin.get("/logs/1").get_data(as_text=True)
    assert "Skipped targets" in detail and "context" in detail and "about 2" in detail


EMPTY = """
  pair-in-order: {selector: in_order, targets: [{provider: a, model: ma}, {provider: b, model: mb}]}
  stall: {selector: in_order, targets: [{provider: quick, model: ma}, {provider: b, model: mb}]}
  lenient: {selector: in_order, targets: [{provider: tolerant, model: ma}, {provider: b, model: mb}]}"""


def extra_providers(a):
    return f"""  quick: {{type: chat, api_base_url: "{a}/v1", api_key: ka, timeouts: {{connect: 2, first_byte: 0.5, idle: 5}}}}
  tolerant: {{type: chat, api_base_url: "{a}/v1", api_key: ka, empty_failover: false}}"""


def role_only_stream(model="ma"):
    from tests.support import wire

    return [wire.sse(wire.chat_chunk(model, {"role": "assistant", "content": ""})),
            wire.sse(wire.chat_chunk(model, {}, finish_reason="stop")), b"data: [DONE]\n\n"]


def test_an_empty_answer_fails_over_unless_the_provider_says_not_to(gateway, fakes):
    from tests.support import wire

    a, b = fakes
    app, client, records = gateway(a.url, b.url, EMPTY, extra_providers(a.url))
    a.reply(body=wire.chat_completion("ma", ""))
    resp = chat(client, "pair-in-order")
    assert resp.status_code == 200 and resp.json["choices"][0]["message"]["content"] == "Hello from fake"
    assert [(x["provider"], x["status"]) for x in records[-1].attempts] == [("a", 502), ("b", 200)]
    a.reply(body=wire.chat_completion("ma", "", finish_reason="length"))  # the limit was reached: the model's own
    assert chat(client, "lenient").json["choices"][0]["message"]["content"] == ""
    a.reply(body=wire.chat_completion("ma", ""))
    resp = chat(client, "lenient")
    assert resp.status_code == 200 and resp.json["choices"][0]["message"]["content"] == "" and records[-1].provider == "tolerant"


def test_a_stream_with_no_output_or_stalled_before_its_first_output_fails_over(gateway, fakes):
    from tests.support import wire

    a, b = fakes
    app, client, records = gateway(a.url, b.url, EMPTY, extra_providers(a.url))
    a.reply(events=role_only_stream())
    resp = chat(client, "pair-in-order", stream=True)
    assert b"Hello" in resp.get_data() and [x["provider"] for x in records[-1].attempts] == ["a", "b"]
    events = role_only_stream()
    a.reply(events=events[:1] + [wire.sse(wire.chat_chunk("ma", {"content": "late"}))], gap=1.2)  # a role chunk, then silence
    resp = chat(client, "stall", stream=True)
    body = resp.get_data()
    assert b"Hello" in body and b"late" not in body
    assert records[-1].attempts[0]["status"] == 504 and "stalled" in records[-1].attempts[0]["error"]
    app.extensions["plexus"].cooldowns.clear()
    a.reply(events=[wire.sse(wire.chat_chunk("ma", {"role": "assistant", "content": ""})),
                    wire.sse(wire.chat_chunk("ma", {"content": "real"})), b"data: [DONE]\n\n"])
    resp = chat(client, "pair-in-order", stream=True)
    assert b"real" in resp.get_data() and [x["provider"] for x in records[-1].attempts] == ["a"]
