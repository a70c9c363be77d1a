"""A fake provider: a real HTTP server on 127.0.0.1 that speaks the providers' wire formats.

Tests script replies with `reply(...)` (served in order, then the default answer) and read what the
gateway sent from `requests`. Streams are sent with chunked transfer encoding, one SSE event per
write, exactly as the real APIs do, with optional pauses and gates to prove nothing is buffered.
"""

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import embedding_wire, wire


@dataclass
class Reply:
    status: int = 200
    body: object = None  # dict/list -> JSON; bytes -> raw
    events: list | None = None  # SSE events as bytes, each sent in its own chunk
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # before the status line
    gap: float = 0.0  # between stream events
    gate: threading.Event | None = None  # a stream waits on it before its last event
    gate_timeout: float = 10.0
    drop: bool = False  # close the connection without answering (a reset)
    cut_after: int | None = None  # a stream stops after this many events, without the terminating chunk


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A client (the gateway) that hangs up is part of many tests, not an error to print."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict
    body: object


class FakeUpstream:
    def __init__(self):
        self.requests = []
        self._replies = deque()
        self._lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: without it each answer waits ~40 ms on a delayed ACK

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                seen = Seen("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with upstream._lock:
                    upstream.requests.append(seen)
                    reply = upstream._replies.popleft() if upstream._replies else None
                upstream._serve(self, reply or upstream.default_reply(seen))

            do_GET = do_POST

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def reply(self, **kw):
        self._replies.append(Reply(**kw))

    def reset(self):
        """Forget what was seen and drop scripted replies not yet served (a failed test may leave some)."""
        with self._lock:
            self._replies.clear()
            self.requests.clear()

    @property
    def last(self):
        return self.requests[-1]

    def default_reply(self, seen):
        """A plain successful answer in the format the path implies."""
        body = seen.body if isinstance(seen.body, dict) else {}
        model = body.get("model", "unknown")
        if seen.path.endswith("/chat/completions"):
            if body.get("stream"):
                usage = (body.get("stream_options") or {}).get("include_usage")
                return Reply(events=wire.chat_stream(model, ["Hello", " from", " fake"], with_usage=bool(usage)))
            return Reply(body=wire.chat_completion(model, "Hello from fake"))
        if seen.path.split("?")[0].endswith("/messages"):
            if body.get("stream"):
                return Reply(events=wire.anthropic_stream(model, [wire.text_block("Hello from fake")]))
            return Reply(body=wire.anthropic_message(model, [wire.text_block("Hello from fake")]))
        embedded = embedding_wire.answer(seen.path, body)
        if embedded is not None:
            return Reply(body=embedded)
        return Reply(status=404, body={"error": {"message": f"no route {seen.path}", "type": "invalid_request_error", "param": None, "code": None}})

    def _serve(self, h, reply):
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            h.close_connection = True
            h.connection.shutdown(2)
            return
        try:
            if reply.events is not None:
                h.send_response(reply.status)
                h.send_header("Content-Type", "text/event-stream")
                h.send_header("Transfer-Encoding", "chunked")
                for k, v in reply.headers.items():
                    h.send_header(k, v)
                h.end_headers()
                events = reply.events if reply.cut_after is None else reply.events[: reply.cut_after]
                for i, ev in enumerate(events):
                    if reply.gate is not None and i == len(reply.events) - 1:
                        reply.gate.wait(reply.gate_timeout)
                    elif reply.gap and i:
                        time.sleep(reply.gap)
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(ev), ev))
                    h.wfile.flush()
                if reply.cut_after is not None:  # a connection that breaks mid-stream
                    h.close_connection = True
                    h.connection.shutdown(2)
                    return
                h.wfile.write(b"0\r\n\r\n")
                h.wfile.flush()
                return
            data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            h.send_response(reply.status)
            h.send_header("Content-Type", reply.headers.pop("Content-Type", "application/json"))
            h.send_header("Content-Length", str(len(data)))
            for k, v in reply.headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
