"""The overview: totals and latency for a window, charts over time split by a dimension, and the
provider cooldowns in force (with a way to clear them)."""

from flask import request

from ...usage import summary
from . import charts
from .formatting import compact, money
from .pages import Pages, back_to, gateway, is_htmx, render, store

pages = Pages("overview")

RANGES = {"hour": "1 hour", "day": "24 hours", "week": "7 days", "month": "30 days"}
GROUPS = {"alias": "alias", "provider": "provider", "key": "key", "model": "model"}


def choice(name, options, default):
    value = request.args.get(name, default)
    return value if value in options else default


def overview_data(range_name, group_by):
    win = summary.window(range_name)
    data = summary.build(range_name, win, group_by, store().summary(win, group_by))
    totals = data["totals"]
    totals["error_rate"] = totals["errors"] / totals["requests"] if totals["requests"] else None
    chart_list = [
        ("Requests", charts.stacked(data, win, "requests", fmt=compact)),
        ("Tokens (input + output)", charts.stacked(data, win, "tokens", fmt=compact)),
        ("Cost", charts.stacked(data, win, "cost", fmt=money)),
    ]
    if totals["cost"] is None:  # nothing priced: an axis of $0.00 would read as free
        cost_chart = chart_list[2][1]
        cost_chart.bars, cost_chart.ticks, cost_chart.empty = [], [], True
        cost_chart.empty_text = "No price configured for these requests" if totals["requests"] else cost_chart.empty_text
        cost_chart.legend = []
    return {"totals": totals, "charts": chart_list, "range": range_name, "group": group_by,
            "ranges": RANGES, "groups": GROUPS}


@pages.get("/")
def overview():
    """Stat cards and charts for a window (refreshed every 10 s by htmx), and the cooldowns."""
    range_name = choice("range", RANGES, "day")
    group_by = choice("group", GROUPS, "alias")
    context = overview_data(range_name, group_by)
    if is_htmx() and request.args.get("part") == "cooldowns":
        return render("overview.html", "_cooldowns.html", cooldowns=gateway().cooldowns.active(), **context)
    return render("overview.html", "_overview.html", cooldowns=gateway().cooldowns.active(), **context)


@pages.post("/cooldowns/clear")
def clear_cooldowns():
    """Clear every cooldown, or one provider's / one target's."""
    provider = request.form.get("provider") or None
    model = request.form.get("model") or None
    cleared = gateway().cooldowns.clear(provider, model)
    message = f"Cleared {cleared} cooldown{'s' if cleared != 1 else ''}."
    if is_htmx():
        return render("overview.html", "_cooldowns.html", cooldowns=gateway().cooldowns.active(), notice=message)
    return back_to("dashboard.overview", message)
