"""The per-request log line: written straight to the stream, byte for byte what the logging
machinery writes (text and JSON lines), control characters escaped, level and extra handlers obeyed."""

import io
import json
import logging
import re
from types import SimpleNamespace

import pytest

from plexus import logging_setup as logs
from plexus.core.gateway import Gateway
from plexus.unified.usage import Usage
from plexus.usage.record import UsageRecord

STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")
JSON_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def stream():
    """The plexus logger's own handler writing to a StringIO; the stream and level put back after."""
    logs.setup("info", "text")
    logger = logging.getLogger("plexus")
    handler = logger.handlers[0]
    out = io.StringIO()
    old = handler.setStream(out)
    yield out
    handler.setStream(old)
    logs.setup("info", "text")


def record(**changes):
    rec = UsageRecord(api_style="chat", request_id="req-1", key_name="team-a", provider="openai", alias="fast",
                      model="gpt-4o-mini", fast_path=True, status=200, duration_s=0.0123,
                      usage=Usage(input_tokens=250, output_tokens=50))
    for name, value in changes.items():
        setattr(rec, name, value)
    return rec


def log_request(rec):
    Gateway.record(SimpleNamespace(sinks=[]), rec)


def through_logging(rec):
    """The line as logger.info with the same extra writes it (the path every other line takes)."""
    extra = {"request_id": rec.request_id}
    if logs.json_lines():
        from plexus.core.gateway import fields
        extra["fields"] = fields(rec)
    from plexus.core.gateway import describe
    logging.getLogger("plexus").info("%s", describe(rec), extra=extra)


RECORDS = [record(), record(usage=None, status=502, error="upstream said \"no\"", fast_path=False),
           record(alias="fast\n2026-01-01 00:00:00 INFO plexus [-]: admin logged in", model="caf\u00e9\u2028x\x1b[31m"),
           record(key_name=None, provider=None, duration_s=None)]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_request_line_is_what_logging_itself_writes(stream, fmt):
    logs.setup("info", fmt)
    for rec in RECORDS:
        log_request(rec)
        through_logging(rec)
    lines = stream.getvalue().split("\n")
    assert lines[-1] == "" and len(lines) == 2 * len(RECORDS) + 1  # one line each, no control character unescaped
    for direct, reference in zip(lines[0:-1:2], lines[1:-1:2]):
        if fmt == "text":
            assert STAMP.match(direct) and STAMP.match(reference)
            assert direct[24:] == reference[24:]
        else:
            direct, reference = json.loads(direct), json.loads(reference)
            assert JSON_TIME.match(direct.pop("time")) and JSON_TIME.match(reference.pop("time"))
            assert direct == reference and direct["request_id"] == "req-1" and direct["level"] == "info"


def test_a_text_line_shows_the_request_and_escapes_control_characters(stream):
    log_request(RECORDS[2])
    line = stream.getvalue()
    assert line.count("\n") == 1 and line.endswith("\n")
    assert line[24:] == ("INFO plexus [req-1]: req-1 key=team-a chat->openai fast"
                         " alias=fast\\n2026-01-01 00:00:00 INFO plexus [-]: admin logged in->caf\u00e9\\u2028x\\x1b[31m"
                         " status=200 12ms tokens_in=250 tokens_out=50\n")


def test_a_json_line_carries_the_fields_and_a_text_line_does_not_build_them(stream, monkeypatch):
    built = []
    import plexus.core.gateway as gateway
    real = gateway.fields
    monkeypatch.setattr(gateway, "fields", lambda rec: built.append(rec) or real(rec))
    log_request(record())
    assert built == []
    logs.setup("info", "json")
    log_request(record())
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["logger"] == "plexus" and line["key"] == "team-a" and line["output_tokens"] == 50 and len(built) == 1


def test_times_are_formatted_as_logging_formats_them():
    text, plain, json_lines = logs.TextFormatter(), logging.Formatter(), logs.JsonFormatter()
    for created in (1764870000.0, 1764870000.9999, 1764870059.5004, 1764873599.999, 1764873600.001, 1764870000.25):
        rec = logging.LogRecord("plexus", logging.INFO, __file__, 1, "m", (), None)
        rec.created, rec.msecs = created, int((created - int(created)) * 1000) + 0.0
        assert text.formatTime(rec) == plain.formatTime(rec)
        import time
        assert json_lines.formatTime(rec) == time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(rec.msecs):03d}Z"


def test_the_level_and_other_handlers_are_obeyed(stream):
    logs.set_level("warning")
    log_request(record())
    assert stream.getvalue() == ""
    logs.set_level("info")
    logger, seen = logging.getLogger("plexus"), []
    extra = logging.Handler()
    extra.emit = seen.append
    logger.addHandler(extra)
    try:
        log_request(record())
    finally:
        logger.removeHandler(extra)
    assert len(seen) == 1 and seen[0].request_id == "req-1" and "alias=fast->gpt-4o-mini" in seen[0].getMessage()
    assert stream.getvalue().count("\n") == 1 and "[req-1]: req-1 key=team-a" in stream.getvalue()


def test_a_failed_write_is_reported_not_raised(stream, monkeypatch, capsys):
    def broken(text):
        raise OSError("disk full")
    monkeypatch.setattr(stream, "write", broken)
    log_request(record())  # the request goes on
    assert "disk full" in capsys.readouterr().err
