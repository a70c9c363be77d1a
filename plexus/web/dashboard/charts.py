"""Stacked bar charts as plain geometry for an SVG template: no JavaScript, nothing to load.

`stacked(summary, window, metric)` takes the usage summary (plexus.usage.summary.build) and gives
bars per time bucket split by group (the biggest few by name, the rest as "other"), a rounded
y-axis and a handful of time labels."""

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone

WIDTH, HEIGHT = 480, 220
LEFT, RIGHT, TOP, BOTTOM = 36, 6, 12, 26
MAX_GROUPS = 6
COLORS = ("#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ec4899", "#8b5cf6", "#94a3b8")  # the last: "other"
NONE_LABEL = "(none)"

METRICS = {
    "requests": lambda s: s["requests"],
    "tokens": lambda s: s["input_tokens"] + s["output_tokens"],
    "cost": lambda s: s["cost"] or 0.0,
}


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    bars: list = field(default_factory=list)  # dicts: x, y, w, h, color, title
    ticks: list = field(default_factory=list)  # dicts: y, value
    labels: list = field(default_factory=list)  # dicts: x, text
    legend: list = field(default_factory=list)  # dicts: name, color, total
    empty: bool = True
    empty_text: str = "No requests in this window"
    plot: dict = field(default_factory=dict)  # left, top, right, bottom


def stacked(summary, window, metric, fmt=str):
    value_of = METRICS[metric]
    totals = {}
    for s in summary["series"]:
        totals[s["group"]] = totals.get(s["group"], 0) + value_of(s)
    ranked = [g for g, _ in sorted(totals.items(), key=lambda kv: -kv[1])]
    named = ranked[:MAX_GROUPS] if len(ranked) <= MAX_GROUPS else ranked[: MAX_GROUPS - 1]
    colors = {g: COLORS[i] for i, g in enumerate(named)}
    other = len(ranked) > len(named)

    stacks = [dict() for _ in range(window.slots)]
    for s in summary["series"]:
        slot = _slot(s["time"], window)
        if 0 <= slot < window.slots:
            g = s["group"] if s["group"] in colors else "__other__"
            stacks[slot][g] = stacks[slot].get(g, 0) + value_of(s)

    chart = Chart()
    peak = max((sum(st.values()) for st in stacks), default=0)
    chart.empty = peak <= 0
    top_value = nice_ceiling(peak) if peak > 0 else 1
    tick_values = [(frac, fmt(top_value * frac)) for frac in (0, 0.5, 1)]
    left = max(LEFT, 12 + 7 * max(len(text) for _, text in tick_values))  # room for the longest label
    top, right, bottom = TOP, WIDTH - RIGHT, HEIGHT - BOTTOM
    chart.plot = {"left": left, "top": top, "right": right, "bottom": bottom}
    for frac, text in tick_values:
        chart.ticks.append({"y": bottom - frac * (bottom - top), "value": text})

    slot_w = (right - left) / window.slots
    bar_w = max(1.0, slot_w * 0.72)
    order = named + (["__other__"] if other else [])
    for i, st in enumerate(stacks):
        x = left + i * slot_w + (slot_w - bar_w) / 2
        y = bottom
        for g in order:
            v = st.get(g, 0)
            if v <= 0:
                continue
            h = v / top_value * (bottom - top)
            y -= h
            name = _name(g)
            chart.bars.append({"x": round(x, 2), "y": round(y, 2), "w": round(bar_w, 2), "h": round(max(h, 0.5), 2),
                               "color": colors.get(g, COLORS[-1]),
                               "title": f"{time_label(window, i, full=True)} · {name}: {fmt(v)}"})
    for i in label_slots(window.slots):
        chart.labels.append({"x": round(left + (i + 0.5) * slot_w, 2), "text": time_label(window, i)})
    chart.legend = [{"name": _name(g), "color": colors.get(g, COLORS[-1]),
                     "total": fmt(totals[g] if g != "__other__" else sum(totals[o] for o in ranked[len(named):]))}
                    for g in order]
    return chart


def _name(group):
    if group == "__other__":
        return "other"
    return group if group is not None else NONE_LABEL


def _slot(iso, window):
    t = datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    return int(round((t - window.start) / window.step))


def nice_ceiling(value):
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above `value`."""
    exponent = math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if m * 10**exponent >= value * 0.999999:
            return m * 10**exponent
    return 10 ** (exponent + 1)


def label_slots(slots, want=6):
    step = max(1, math.ceil(slots / want))
    return list(range(0, slots, step))


def time_label(window, slot, full=False):
    t = datetime.fromtimestamp(window.start + slot * window.step, timezone.utc)
    if window.step < 86400:
        short = t.strftime("%H:%M")
        if window.step >= 3600 and (full or t.hour < window.step // 3600):
            return t.strftime("%b %d %H:%M") if full else t.strftime("%b %d")
        return short if not full else t.strftime("%b %d %H:%M")
    return t.strftime("%b %d")
