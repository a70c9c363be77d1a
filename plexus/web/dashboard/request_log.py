"""The request log: usage records newest first, filtered, paged by a cursor, and one record in full.

Paging is by time, not by page number: the cursor is the time of the last row shown (`before`)
and how many rows at exactly that time were shown already (`skip`), turned into the store's
`until` filter and a tiny offset. So the thousandth page costs what the first does."""

import dataclasses
import math
import time

from flask import abort, request

from ... import capture
from ...usage.params import BadParameter, parse_filters
from .pages import Pages, gateway, is_htmx, render, store

pages = Pages("logs")

PAGE_SIZE = 50
RANGES = {"hour": ("Last hour", 3600), "day": ("Last 24 hours", 86400), "week": ("Last 7 days", 7 * 86400),
          "month": ("Last 30 days", 30 * 86400), "all": ("All time", None)}
FILTERS = ("range", "key", "alias", "provider", "status")


def current_filters():
    """(the form's values, store Filters) from the query string; a bad value is reported, not fatal."""
    form = {name: request.args.get(name, "").strip() for name in FILTERS}
    if form["range"] not in RANGES:
        form["range"] = "day"
    seconds = RANGES[form["range"]][1]
    args = {k: form[k] for k in ("key", "alias", "provider", "status") if form[k]}
    if seconds:
        args["since"] = str(time.time() - seconds)
    try:
        return form, parse_filters(args), None
    except BadParameter as e:
        args.pop("status", None)
        return form, parse_filters(args), str(e)


def cursor():
    try:
        before = float(request.args["before"])
        skip = int(request.args.get("skip", "0"))
    except (KeyError, ValueError):
        return None, 0
    return (before, max(0, skip)) if math.isfinite(before) else (None, 0)


def page_of(filters, before, skip):
    """(rows, matching from the cursor on, the next cursor or None)."""
    if before is not None:
        until = math.nextafter(before, math.inf)  # `until` is exclusive: rows at `before` stay in
        if filters.until is not None:
            until = min(until, filters.until)
        filters = dataclasses.replace(filters, until=until)
    rows, total = store().query(filters, PAGE_SIZE, skip if before is not None else 0)
    nxt = None
    if len(rows) == PAGE_SIZE and total > PAGE_SIZE + (skip if before is not None else 0):
        last = rows[-1]["time"]
        same = sum(1 for r in rows if r["time"] == last)
        if before is not None and last == before:
            same += skip
        nxt = {"before": repr(last), "skip": same}
    return rows, total, nxt


def choices():
    config = gateway().config
    return {"keys": sorted(config.keys), "aliases": sorted(config.aliases), "providers": sorted(config.providers),
            "ranges": {k: v[0] for k, v in RANGES.items()}}


@pages.get("/logs")
def logs():
    """The log table (the whole page, or the table alone for htmx and the live tail)."""
    form, filters, error = current_filters()
    before, skip = cursor()
    rows, total, nxt = page_of(filters, before, skip)
    live = request.args.get("live") == "1" and before is None
    query = {k: v for k, v in form.items() if v}
    context = dict(rows=rows, total=total, next=nxt, form=form, filter_error=error, first_page=before is None,
                   live=live, query=query, **choices())
    return render("logs.html", "_logs.html", **context)


@pages.get("/logs/<int:record_id>")
def log_detail(record_id):
    """Every stored field of one request, its attempts included, and its debug capture if any."""
    rec = store().record(record_id)
    if rec is None:
        abort(404, f"No request #{record_id} in the usage store (it may have been pruned).")
    captures = gateway().capture
    found = captures.for_request(rec["request_id"], rec["time"])
    replay = capture.curl(found, -1, gateway().config.path) if found else None
    return render("log_detail.html", "_log_detail.html", rec=rec, htmx=is_htmx(), capture=found, curl=replay,
                  capture_on=captures.on)
