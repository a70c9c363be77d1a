"""The Jinja filters that format numbers, money and times on the dashboard's pages."""

import functools
import math
from collections.abc import Callable
from datetime import datetime, timezone


def dash_for_none(fmt: Callable[..., str]) -> Callable[..., str]:
    """A filter that shows a missing value as a dash."""

    @functools.wraps(fmt)
    def format_value(value, *args, **kwargs):
        return "—" if value is None else fmt(value, *args, **kwargs)

    return format_value


def money(value):
    """USD; unknown cost (no configured price) reads 'no price', never $0.00."""
    if value is None:
        return "no price"
    if value == 0:
        return "$0.00"
    if abs(value) < 0.000001:
        return "< $0.000001"
    if abs(value) < 0.01:
        return "$" + f"{value:.6f}".rstrip("0")
    if abs(value) < 1:
        return "$" + f"{value:.4f}".rstrip("0").ljust(4, "0")
    return f"${value:,.2f}"


def price(value):
    """A configured price (USD per 1M tokens): at least two decimals, more when it has them."""
    return "$" + f"{value:.6f}".rstrip("0").ljust(len(f"{int(value)}") + 3, "0")


@dash_for_none
def num(value):
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


@dash_for_none
def compact(value):
    """1234 -> 1.2k, 3400000 -> 3.4M."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}".rstrip("0").rstrip(".") + suffix
    return num(value)


@dash_for_none
def ms(value):
    if value < 1:
        return "< 1 ms"
    if value < 1000:
        return f"{value:.0f} ms"
    return f"{value / 1000:.2f} s"


@dash_for_none
def pct(value):
    if value == 0:
        return "0%"
    return f"{value * 100:.1f}%" if value < 0.1 else f"{value * 100:.0f}%"


@dash_for_none
def when(epoch):
    """An epoch (or ISO 8601) time in UTC, to the second."""
    if isinstance(epoch, str):
        try:
            epoch = datetime.fromisoformat(epoch.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return epoch
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def ago(epoch, now=None):
    if epoch is None:
        return "never"
    seconds = max(0, (now or datetime.now(timezone.utc).timestamp()) - epoch)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{math.floor(seconds / size)} {unit} ago"
    return "just now"


FILTERS = {f.__name__: f for f in (money, price, num, compact, ms, pct, when, ago)}
