// The benchmark's upstream: OpenAI chat, Anthropic messages and Gemini, answered from pre-built bytes
// so that it costs far less CPU than the gateway in front of it. Node's `http` only, no npm packages.
//
//   node bench/fake_upstream.js [port]        prints "listening <port>" once ready (port 0: any free one)
//
// The model name sets the answer's shape: `...n<chunks>-i<ms>...` (e.g. `fake-n50-i10`) streams <chunks>
// text deltas <ms> apart; without it, 50 deltas 10 ms apart. Delta k is the text `w<k> `, so a client
// can check that every chunk arrived, once, in order. Non-streamed answers carry the same text whole.
// Wire shapes follow tests/support/wire.py and ../shared/docs/wire-formats.md (section 4 for Gemini).
// GET /stats gives {"open": streams in progress, "peak_open", "served"}, a cross-check for the client.
"use strict";

const http = require("http");

const CREATED = 1730000000;
const shapes = new Map(); // model -> pre-built bodies and events
let open = 0, peakOpen = 0, served = 0;

function shapeOf(model) {
  let s = shapes.get(model);
  if (s) return s;
  const m = /n(\d+)-i(\d+)/.exec(model);
  const n = m ? Math.max(1, Math.min(10000, +m[1])) : 50;
  const interval = m ? +m[2] : 10;
  s = build(model, n, interval);
  if (shapes.size < 1000) shapes.set(model, s);
  return s;
}

function sse(obj, event) {
  return (event ? `event: ${event}\n` : "") + `data: ${typeof obj === "string" ? obj : JSON.stringify(obj)}\n\n`;
}

function build(model, n, interval) {
  const tokens = Array.from({ length: n }, (_, k) => `w${k} `);
  const text = tokens.join("");
  const id = "chatcmpl-bench0001";

  // OpenAI Chat Completions
  const chatUsage = {
    prompt_tokens: 20, completion_tokens: n, total_tokens: 20 + n,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
  const chatJson = JSON.stringify({
    id, object: "chat.completion", created: CREATED, model,
    choices: [{ index: 0, message: { role: "assistant", content: text, refusal: null, annotations: [] }, logprobs: null, finish_reason: "stop" }],
    usage: chatUsage, service_tier: "default", system_fingerprint: "fp_bench",
  });
  const chunk = (delta, finish, withUsage) => {
    const c = { id, object: "chat.completion.chunk", created: CREATED, model, service_tier: "default", system_fingerprint: "fp_bench",
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] };
    if (withUsage) c.usage = null;
    return sse(c);
  };
  const chatStream = (withUsage) => {
    const deltas = tokens.map((t) => chunk({ content: t }, null, withUsage));
    deltas[0] = chunk({ role: "assistant", content: "", refusal: null }, null, withUsage) + deltas[0];
    let tail = chunk({}, "stop", withUsage);
    if (withUsage) {
      tail += sse({ id, object: "chat.completion.chunk", created: CREATED, model, service_tier: "default",
        system_fingerprint: "fp_bench", choices: [], usage: chatUsage });
    }
    return { deltas, tail: tail + "data: [DONE]\n\n" };
  };

  // Anthropic Messages
  const msgUsage = { input_tokens: 20, cache_creation_input_tokens: 0, cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 }, output_tokens: n, service_tier: "standard" };
  const message = (content, stopReason, usage) => ({ id: "msg_01Bench0001", type: "message", role: "assistant", model,
    content, stop_reason: stopReason, stop_sequence: null, usage });
  const ev = (data) => sse(data, data.type);
  const msgJson = JSON.stringify(message([{ type: "text", text }], "end_turn", msgUsage));
  const msgDeltas = tokens.map((t) => ev({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: t } }));
  msgDeltas[0] = ev({ type: "message_start", message: message([], null, { ...msgUsage, output_tokens: 1 }) })
    + ev({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } })
    + 'event: ping\ndata: {"type": "ping"}\n\n' + msgDeltas[0];
  const msgTail = ev({ type: "content_block_stop", index: 0 })
    + ev({ type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: n } })
    + ev({ type: "message_stop" });

  // Gemini: every SSE event a whole GenerateContentResponse, CRLF line ends, no terminator
  const gemUsage = { promptTokenCount: 20, candidatesTokenCount: n, totalTokenCount: 20 + n,
    promptTokensDetails: [{ modality: "TEXT", tokenCount: 20 }] };
  const candidate = (t, finish) => {
    const c = { content: { role: "model", parts: [{ text: t }] }, index: 0 };
    if (finish) c.finishReason = "STOP";
    return c;
  };
  const gemResponse = (t, finish, usage) => ({ candidates: [candidate(t, finish)], usageMetadata: usage,
    modelVersion: model, responseId: "bench-r1" });
  const gemJson = JSON.stringify(gemResponse(text, true, gemUsage));
  const gemDeltas = tokens.map((t, k) => `data: ${JSON.stringify(gemResponse(t, k === n - 1,
    k === n - 1 ? gemUsage : { promptTokenCount: 20, totalTokenCount: 20 }))}\r\n\r\n`);

  return {
    interval,
    chat: { json: chatJson, usage: chatStream(true), bare: chatStream(false) },
    messages: { json: msgJson, stream: { deltas: msgDeltas, tail: msgTail } },
    gemini: { json: gemJson, stream: { deltas: gemDeltas, tail: "" } },
  };
}

function stream(req, res, events, interval) {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  open++; served++;
  if (open > peakOpen) peakOpen = open;
  let k = 0, timer = null, done = false;
  const finish = () => { if (!done) { done = true; open--; clearTimeout(timer); } };
  const next = () => {
    const last = k === events.deltas.length - 1;
    res.write(last ? events.deltas[k] + events.tail : events.deltas[k]);
    k++;
    if (last) { finish(); res.end(); } else timer = setTimeout(next, interval);
  };
  res.on("close", finish); // the client went away: stop the timer
  next();
}

function json(res, status, body) {
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function handle(req, res, raw) {
  const url = req.url;
  if (req.method === "GET") {
    if (url === "/health") return json(res, 200, '{"status":"ok"}');
    if (url === "/stats") return json(res, 200, JSON.stringify({ open, peak_open: peakOpen, served }));
    if (url === "/stats/reset") { peakOpen = open; return json(res, 200, "{}"); }
    return json(res, 404, '{"error":{"message":"not found"}}');
  }
  let body;
  try { body = JSON.parse(raw); } catch (e) { return json(res, 400, '{"error":{"message":"body is not JSON"}}'); }
  const gem = /\/models\/([^/:?]+):(generateContent|streamGenerateContent)/.exec(url);
  if (gem) {
    const s = shapeOf(decodeURIComponent(gem[1]));
    if (gem[2] === "generateContent") { served++; return json(res, 200, s.gemini.json); }
    return stream(req, res, s.gemini.stream, s.interval);
  }
  const path = url.split("?", 1)[0];
  const s = shapeOf(typeof body.model === "string" ? body.model : "");
  if (path.endsWith("/chat/completions")) {
    if (!body.stream) { served++; return json(res, 200, s.chat.json); }
    const withUsage = !!(body.stream_options && body.stream_options.include_usage);
    return stream(req, res, withUsage ? s.chat.usage : s.chat.bare, s.interval);
  }
  if (path.endsWith("/messages")) {
    if (!body.stream) { served++; return json(res, 200, s.messages.json); }
    return stream(req, res, s.messages.stream, s.interval);
  }
  return json(res, 404, '{"error":{"message":"no such endpoint"}}');
}

const server = http.createServer({ noDelay: true, keepAliveTimeout: 120000, requestTimeout: 0, headersTimeout: 60000 }, (req, res) => {
  const parts = [];
  req.on("data", (d) => parts.push(d));
  req.on("end", () => handle(req, res, parts.length === 1 ? parts[0] : Buffer.concat(parts)));
});
server.maxHeadersCount = 100;
// a deep backlog: a gateway opening 1,000 upstream connections at once must not wait on SYN retries
server.listen({ port: +(process.argv[2] || 0), host: "127.0.0.1", backlog: 4096 }, () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
