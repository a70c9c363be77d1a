// The benchmark's client. Reads one job (JSON) from argv[2] (or from the file argv[2] names with "@"),
// prints JSON lines on stdout: {"event":"ready"} after the warm-up (with `sync`), then {"event":"result",...}.
// Node's `http` only, no npm packages.
//
// Every answer is checked, not just timed: status 200, the model name, the whole text (the fake
// upstream's deltas are `w0 w1 w2 ...`, so a lost, repeated or reordered chunk is caught), usage, and for
// streams the terminator with nothing after it. Times are from the request being sent to the last byte
// (`ms`), to the first byte of the body (`ttfb_ms`) and, for streams, to the first text delta (`ttft_ms`).
//
// Modes:
//   interleaved  {targets, rounds, warmup}         one connection per target; each round sends one
//                                                   request to every target in turn (start rotates)
//   closed       {targets, concurrency, count, duration_s, warmup, blocks, sync}
//                                                   `concurrency` loops on keep-alive connections, one target
//                                                   at a time, the targets taking turns in `blocks`; each
//                                                   target gets `count` requests or `duration_s`, whichever
//                                                   ends first. With `sync`, prints {"event":"ready"} after
//                                                   the warm-up and waits for a line on stdin to measure.
//   hold         {targets:[t], streams, ramp_s}     opens `streams` streams at once (each on its own
//                                                   connection) and reports how many were open together.
// A target: {name, url, headers, body (string), style: chat|messages|gemini, stream, model, tokens}.
"use strict";

const http = require("http");
const fs = require("fs");

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms

function expectedText(n) {
  let s = "";
  for (let k = 0; k < n; k++) s += `w${k} `;
  return s;
}

function prepare(t) {
  const u = new URL(t.url);
  const body = Buffer.from(t.body);
  return { ...t, host: u.hostname, port: +u.port, path: u.pathname + u.search, bodyBuf: body,
    reqHeaders: { ...t.headers, "content-type": "application/json", "content-length": body.length },
    expected: expectedText(t.tokens) };
}

// ---- answer checks ---------------------------------------------------------------------------------

function textOfJson(style, obj) {
  if (style === "chat") return obj.choices && obj.choices[0] && obj.choices[0].message && obj.choices[0].message.content;
  if (style === "messages") return Array.isArray(obj.content) ? obj.content.filter((b) => b.type === "text").map((b) => b.text).join("") : null;
  const c = obj.candidates && obj.candidates[0];
  return c && c.content && Array.isArray(c.content.parts) ? c.content.parts.map((p) => p.text || "").join("") : null;
}

function usageOfJson(style, obj) {
  if (style === "chat") return !!(obj.usage && obj.usage.completion_tokens);
  if (style === "messages") return !!(obj.usage && obj.usage.output_tokens);
  return !!(obj.usageMetadata && obj.usageMetadata.candidatesTokenCount);
}

function checkJson(t, raw) {
  let obj;
  try { obj = JSON.parse(raw); } catch (e) { return "body is not JSON"; }
  if (t.style !== "gemini" && obj.model !== t.model) return `model is ${JSON.stringify(obj.model)}, asked ${t.model}`;
  const text = textOfJson(t.style, obj);
  if (text !== t.expected) return `text differs: ${JSON.stringify(String(text).slice(0, 60))}`;
  if (!usageOfJson(t.style, obj)) return "no usage";
  return null;
}

// Reads an SSE body as it arrives; `feed` returns true when the chunk held the first text delta.
class StreamCheck {
  constructor(t) {
    this.t = t;
    this.buf = "";
    this.text = "";
    this.deltas = 0;
    this.done = false;
    this.usage = false;
    this.error = null;
  }

  feed(s) {
    this.buf += s;
    const before = this.deltas;
    for (;;) {
      const m = /\r\n\r\n|\n\n|\r\r/.exec(this.buf);
      if (!m) break;
      const block = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      this.event(block);
    }
    return before === 0 && this.deltas > 0;
  }

  event(block) {
    let name = null;
    const data = [];
    for (const line of block.split(/\r\n|\r|\n/)) {
      if (line.startsWith("data:")) data.push(line.slice(line[5] === " " ? 6 : 5));
      else if (line.startsWith("event:")) name = line.slice(line[6] === " " ? 7 : 6);
    }
    if (!data.length) return;
    if (this.done && !this.error) this.error = "an event after the end of the stream";
    const raw = data.join("\n");
    if (this.t.style === "chat" && raw === "[DONE]") { this.done = true; return; }
    let obj;
    try { obj = JSON.parse(raw); } catch (e) { this.error = this.error || "an event that is not JSON"; return; }
    if (obj.error) { this.error = this.error || `in-stream error: ${JSON.stringify(obj.error).slice(0, 120)}`; return; }
    const style = this.t.style;
    if (style === "chat") {
      const c = obj.choices && obj.choices[0];
      if (obj.model !== this.t.model) this.error = this.error || `chunk model is ${obj.model}`;
      if (c && c.delta && typeof c.delta.content === "string" && c.delta.content) this.piece(c.delta.content);
      if (obj.usage && obj.usage.completion_tokens) this.usage = true;
    } else if (style === "messages") {
      if (name !== obj.type) this.error = this.error || `event line '${name}' for data.type '${obj.type}'`;
      if (obj.type === "content_block_delta" && obj.delta.type === "text_delta") this.piece(obj.delta.text);
      else if (obj.type === "message_start" && obj.message.model !== this.t.model) this.error = this.error || `message model is ${obj.message.model}`;
      else if (obj.type === "message_delta" && obj.usage && obj.usage.output_tokens) this.usage = true;
      else if (obj.type === "message_stop") this.done = true;
    } else {
      const c = obj.candidates && obj.candidates[0];
      if (c && c.content && Array.isArray(c.content.parts)) for (const p of c.content.parts) if (p.text) this.piece(p.text);
      if (obj.usageMetadata && obj.usageMetadata.candidatesTokenCount) this.usage = true;
      if (c && c.finishReason) this.done = true;
    }
  }

  piece(s) {
    // each piece must continue the expected text exactly where the last one stopped
    if (!this.error && this.t.expected.startsWith(s, this.text.length)) this.text += s;
    else this.error = this.error || `delta ${this.deltas} out of order: ${JSON.stringify(s)} after ${this.text.length} chars`;
    this.deltas++;
  }

  finish() {
    if (this.buf.trim()) this.event(this.buf);
    if (this.error) return this.error;
    if (!this.done) return `the stream ended without its terminator (after ${this.deltas} text deltas)`;
    if (this.text !== this.t.expected) return `only ${this.deltas} of the text deltas arrived`;
    if (!this.usage) return "no usage in the stream";
    return null;
  }
}

// ---- one request -------------------------------------------------------------------------------------

function once(t, agent, hooks) {
  return new Promise((resolve) => {
    const t0 = now();
    let ttft = null, ttfb = null, settled = false, hookEnded = false;
    const done = (r) => { if (!settled) { settled = true; resolve(r); } };
    const endHook = () => { if (hooks && ttft !== null && !hookEnded) { hookEnded = true; hooks.end(); } };
    const req = http.request({ host: t.host, port: t.port, path: t.path, method: "POST", headers: t.reqHeaders, agent }, (res) => {
      res.setEncoding("utf8");
      const check = t.stream ? new StreamCheck(t) : null;
      let raw = "";
      res.on("data", (s) => {
        if (ttfb === null) ttfb = now() - t0;
        if (!check) { raw += s; return; }
        if (check.feed(s) && ttft === null) {
          ttft = now() - t0;
          if (hooks) hooks.first();
        }
      });
      res.on("end", () => {
        const ms = now() - t0;
        endHook();
        let err = res.statusCode === 200 ? (check ? check.finish() : checkJson(t, raw)) : `HTTP ${res.statusCode}: ${raw.slice(0, 160)}`;
        if (check && res.statusCode !== 200) err = `HTTP ${res.statusCode}: ${check.buf.slice(0, 160)}`;
        if (!res.complete) err = `the answer was cut off (${err || "its content was whole"})`;
        done({ ok: !err, err, ms, ttfb_ms: ttfb, ttft_ms: ttft });
      });
      const cut = () => { endHook(); done({ ok: false, err: "the answer was cut off", ms: now() - t0, ttft_ms: ttft }); };
      res.on("aborted", cut);
      res.on("close", () => { if (!res.complete) cut(); });
      res.on("error", (e) => { endHook(); done({ ok: false, err: `response: ${e.code || e.message}`, ms: now() - t0, ttft_ms: ttft }); });
    });
    req.on("error", (e) => done({ ok: false, err: `request: ${e.code || e.message}`, ms: now() - t0, ttft_ms: null }));
    req.end(t.bodyBuf);
  });
}

// ---- figures -------------------------------------------------------------------------------------------

function pct(sorted, p) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return +sorted[i].toFixed(3);
}

function summary(xs) {
  if (!xs.length) return null;
  const s = Float64Array.from(xs).sort();
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { n: s.length, mean: +mean.toFixed(3), min: +s[0].toFixed(3), p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: +s[s.length - 1].toFixed(3) };
}

class Tally {
  constructor(name) { this.name = name; this.ms = []; this.ttfb = []; this.ttft = []; this.errors = 0; this.firstErrors = {}; }
  add(r) {
    if (r.ok) {
      this.ms.push(r.ms);
      if (r.ttfb_ms !== null) this.ttfb.push(r.ttfb_ms);
      if (r.ttft_ms !== null) this.ttft.push(r.ttft_ms);
      return;
    }
    this.errors++;
    if (Object.keys(this.firstErrors).length < 5 || this.firstErrors[r.err]) this.firstErrors[r.err] = (this.firstErrors[r.err] || 0) + 1;
  }
  result(extra) {
    return { target: this.name, ok: this.ms.length, errors: this.errors, error_kinds: this.firstErrors,
      ms: summary(this.ms), ttfb_ms: summary(this.ttfb), ttft_ms: summary(this.ttft), ...extra };
  }
}

const agentFor = (n) => new http.Agent({ keepAlive: true, maxSockets: n, maxFreeSockets: n, scheduling: "fifo" });
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

function waitForLine() {
  return new Promise((resolve) => {
    process.stdin.setEncoding("utf8");
    process.stdin.once("data", () => { process.stdin.pause(); resolve(); });
  });
}

// ---- modes -----------------------------------------------------------------------------------------------

async function interleaved(job) {
  const targets = job.targets.map(prepare);
  const agents = targets.map(() => agentFor(1));
  const tallies = targets.map((t) => new Tally(t.name));
  for (let r = 0; r < job.warmup + job.rounds; r++) {
    for (let j = 0; j < targets.length; j++) {
      const i = (r + j) % targets.length;
      const res = await once(targets[i], agents[i]);
      if (r >= job.warmup) tallies[i].add(res);
    }
  }
  const cpu = process.cpuUsage();
  return { results: tallies.map((t) => t.result()), client_cpu_s: (cpu.user + cpu.system) / 1e6 };
}

async function closed(job) {
  const targets = job.targets.map(prepare);
  const agents = targets.map(() => agentFor(job.concurrency));
  const run = async (i, count, seconds, tally) => {
    let issued = 0;
    const deadline = now() + seconds * 1000;
    const loop = async () => {
      while (issued < count && now() < deadline) {
        issued++;
        const r = await once(targets[i], agents[i]);
        if (tally) tally.add(r);
      }
    };
    const t0 = now();
    await Promise.all(Array.from({ length: job.concurrency }, loop));
    return (now() - t0) / 1000;
  };
  for (let i = 0; i < targets.length; i++) if (job.warmup) await run(i, job.warmup, 60, null);
  if (job.sync) { emit({ event: "ready" }); await waitForLine(); }
  // the targets take turns in blocks (order reversed every other block), so that whatever else loads
  // the machine meanwhile weighs on each of them alike
  const blocks = job.blocks || 1;
  const tallies = targets.map((t) => new Tally(t.name));
  const elapsed = targets.map(() => 0);
  const cpu0 = process.cpuUsage();
  for (let b = 0; b < blocks; b++) {
    const order = targets.map((_, i) => (b % 2 ? targets.length - 1 - i : i));
    for (const i of order) {
      const count = job.count ? Math.round((job.count * (b + 1)) / blocks) - Math.round((job.count * b) / blocks) : Infinity;
      elapsed[i] += await run(i, count, (job.duration_s || 3600) / blocks, tallies[i]);
    }
  }
  const cpu = process.cpuUsage(cpu0);
  return { client_cpu_s: (cpu.user + cpu.system) / 1e6, results: tallies.map((tally, i) => tally.result({
    elapsed_s: +elapsed[i].toFixed(3), rps: +(tally.ms.length / elapsed[i]).toFixed(1), requests: tally.ms.length + tally.errors })) };
}

async function hold(job) {
  const t = prepare(job.targets[0]);
  const agent = agentFor(job.streams);
  const tally = new Tally(t.name);
  let open = 0, peak = 0, allOpenAt = null;
  const t0 = now();
  const hooks = {
    first: () => {
      open++;
      if (open > peak) peak = open;
      if (open === job.streams && allOpenAt === null) allOpenAt = now() - t0;
    },
    end: () => { open--; },
  };
  const spacing = (job.ramp_s || 0) * 1000 / job.streams;
  const pending = [];
  for (let k = 0; k < job.streams; k++) {
    pending.push(once(t, agent, hooks).then((r) => tally.add(r)));
    if (spacing && k % 50 === 49) await new Promise((r) => setTimeout(r, spacing * 50));
  }
  await Promise.all(pending);
  const cpu = process.cpuUsage();
  return { client_cpu_s: (cpu.user + cpu.system) / 1e6, results: [tally.result({ streams: job.streams, peak_open: peak, all_open_after_s: allOpenAt === null ? null : +(allOpenAt / 1000).toFixed(3),
    elapsed_s: +((now() - t0) / 1000).toFixed(3) })] };
}

async function main() {
  const arg = process.argv[2];
  const job = JSON.parse(arg.startsWith("@") ? fs.readFileSync(arg.slice(1), "utf8") : arg);
  const modes = { interleaved, closed, hold };
  const out = await modes[job.mode](job);
  emit({ event: "result", ...out });
  process.exit(0);
}

main().catch((e) => { emit({ event: "failed", error: String(e && e.stack || e) }); process.exit(1); });
