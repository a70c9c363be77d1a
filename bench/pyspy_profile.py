"""Where Plexus's worker spends its CPU: py-spy samples under load, summed up by function and by package.

`bench/run.sh --profile` records one profile per pair (bench/results/profile-<pair>.txt, collapsed
stacks that speedscope.app or flamegraph.pl read) and prints the summary that `summarize` makes.
py-spy is not a dependency of Plexus: install it anywhere (e.g. `python3 -m venv /tmp/spy &&
/tmp/spy/bin/pip install py-spy`) and give its path with --py-spy, or have it on PATH.
"""

import re
import subprocess
from collections import Counter

# a frame's package, from the file py-spy names (relative to site-packages or the repo): first match wins
PACKAGES = [
    ("plexus/usage/", "plexus.usage (records, writer)"),
    ("plexus/storage/", "plexus.storage (SQLite, scheduler)"),
    ("plexus/", "plexus (request path)"),
    ("app.py", "plexus (request path)"),
    ("logging/", "logging"),
    ("werkzeug/", "werkzeug"),
    ("flask/", "flask"),
    ("gunicorn/", "gunicorn"),
    ("gevent/", "gevent"),
    ("greenlet/", "gevent"),
    ("requests/", "requests"),
    ("urllib3/", "urllib3"),
    ("http/", "http.client"),
    ("email/", "email (http.client's header parsing)"),
    ("sqlite3/", "sqlite3"),
    ("json/", "json"),
    ("marshmallow/", "marshmallow"),
    ("typing.py", "typing (Protocol isinstance checks)"),
    ("contextlib.py", "contextlib"),
]
FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*)\)$")
# leaves that are waits py-spy does not recognise as idle (gevent's thread pool, e.g. for getaddrinfo)
IDLE_LEAVES = {"acquire_with_timeout (gevent/_threading.py)"}


def record(py_spy, pid, seconds, out_path, rate=200):
    """Start py-spy on `pid` for `seconds`; returns the Popen (wait on it). Collapsed stacks, no line
    numbers, so that one function is one frame."""
    argv = [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", str(rate),
            "--format", "raw", "--nolineno", "--output", str(out_path)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def package(file):
    for prefix, name in PACKAGES:
        if file.startswith(prefix) or "/" + prefix in file:
            return name
    return "other: " + file.rsplit("/", 1)[-1]


def is_plexus(frame):
    return "(plexus/" in frame or "(app.py)" in frame


def parse(path):
    """[(frames, samples)] from py-spy's raw (collapsed) output; frames run from the root to the leaf."""
    stacks = []
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if stack and count.isdigit():
                stacks.append((stack.split(";"), int(count)))
    return stacks


def short(frame):
    m = FRAME.match(frame)
    if not m:
        return frame
    file = m["file"]
    for marker in ("site-packages/", "python3.11/", "/work/main/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{m['func']} ({file})"


def summarize(path, top=20):
    """Text: CPU samples by package (of the leaf frame); top functions by self time; plexus's
    functions by inclusive time; and the library calls plexus makes, by inclusive time."""
    stacks = [([short(f) for f in frames], n) for frames, n in parse(path)]
    stacks = [(frames, n) for frames, n in stacks if frames and frames[-1] not in IDLE_LEAVES]
    total = sum(n for _, n in stacks)
    if not total:
        return "no samples (did py-spy have permission to attach?)"
    by_package, self_, incl, calls = Counter(), Counter(), Counter(), Counter()
    for frames, n in stacks:
        m = FRAME.match(frames[-1])
        by_package[package(m["file"] if m else frames[-1])] += n
        self_[frames[-1]] += n
        incl.update({f: n for f in set(frames)})
        calls.update({f: n for f in {b for a, b in zip(frames, frames[1:]) if is_plexus(a) and not is_plexus(b)}})

    def block(title, counter, keep=lambda name: True, limit=top):
        rows = [(name, n) for name, n in counter.most_common() if keep(name)][:limit]
        return [f"\n  {title}:"] + [f"    {100 * n / total:5.1f}%  {name}" for name, n in rows]

    lines = [f"{total} samples of the worker while it was on CPU"]
    lines += block("by package (self time)", by_package, limit=15)
    lines += block(f"top {top} functions by self time", self_)
    lines += block("plexus functions by inclusive time", incl, is_plexus)
    lines += block("library calls made from plexus code, by inclusive time", calls, limit=12)
    return "\n".join(lines)
