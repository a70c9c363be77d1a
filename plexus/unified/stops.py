"""Stop sequences for a provider that has none (the Responses API): the gateway ends the answer at
the first stop sequence itself, as the provider would have — in a whole answer (`cut`) and in a
stream (`StopFilter`, which holds back only the text that could still become a stop sequence). The
upstream is not interrupted: what it sends after the stop is read for usage and not passed on."""

from .events import Failure, Stop, Text, UsageReport


def cut(resp, stops):
    """A unified response ended at the first stop sequence in its text, if any."""
    for i, part in enumerate(resp["content"]):
        if part["type"] != "text":
            continue
        hit = _first(part["text"], stops)
        if hit:
            at, seq = hit
            resp["content"] = resp["content"][:i] + ([{**part, "text": part["text"][:at]}] if at else [])
            resp["stop_reason"], resp["stop_sequence"] = "stop_sequence", seq
            break
    return resp


def _first(text, stops):
    found = [(at, s) for s in stops if (at := text.find(s)) >= 0]
    return min(found) if found else None


class StopFilter:
    """Wraps a provider's stream parser (same interface): text goes on as it comes, except a tail
    that could be the start of a stop sequence; at a stop sequence the stream stops there."""

    def __init__(self, parser, stops):
        self.parser, self.stops = parser, [s for s in stops if s]
        self.held = ""
        self.stopped = False

    @property
    def output_chars(self):
        return self.parser.output_chars

    @property
    def usage(self):
        return self.parser.usage

    def feed(self, sse):
        out = []
        for event in self.parser.feed(sse):
            kind = type(event)
            if self.stopped:
                if kind is UsageReport or kind is Failure:
                    out.append(event)
            elif kind is Text:
                self._text(event.text, out)
            else:
                if self.held:
                    out.append(Text(self.held))
                    self.held = ""
                out.append(event)
        return out

    def _text(self, text, out):
        text = self.held + text
        hit = _first(text, self.stops)
        if hit:
            at, seq = hit
            if at:
                out.append(Text(text[:at]))
            out.append(Stop("stop_sequence", seq))
            self.held, self.stopped = "", True
            return
        keep = max((n for s in self.stops for n in range(min(len(s) - 1, len(text)), 0, -1) if text.endswith(s[:n])),
                   default=0)
        if len(text) > keep:
            out.append(Text(text[:len(text) - keep]))
        self.held = text[len(text) - keep:]
