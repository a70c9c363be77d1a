"""The raw config file in a text area: checked with the start-up schemas before it is saved, the
problems listed with their line numbers.

Literal secrets in the file (an `admin_key`, `metrics.token`, a key's `secret`, a provider's
`api_key` or header value written out rather than as `${ENV}`), however short, are not sent to the
browser: the editor shows a placeholder exactly where each value is written (found by its position
in the parsed file, so a short secret never blanks out other text), and also wherever a longer one
appears again (in a comment, say). Saving puts the file's text back wherever a placeholder still
stands."""

import yaml
from flask import request

from ...config import edit as config_edit
from ...config import ConfigError
from .pages import Pages, config_path, gateway, render

pages = Pages("config")

PLACEHOLDER = "PLEXUS-HIDDEN-SECRET-{}"
# where secrets are written: "*" is any key of a mapping
SECRET_PATHS = (("admin_key",), ("metrics", "token"), ("keys", "*", "secret"), ("providers", "*", "api_key"),
                ("providers", "*", "headers", "*"))
ALSO_ELSEWHERE = 6  # a hidden value at least this long is also hidden where else it appears


def secret_spans(text):
    """[(start, end)] of the text of every literal secret value (inside its quotes, if quoted)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)  # nodes only: aliases are never expanded
    except yaml.YAMLError:
        return []
    spans = set()
    for pattern in SECRET_PATHS:
        for node in _find(root, pattern):
            if not isinstance(node, yaml.ScalarNode) or node.style not in (None, "'", '"'):
                continue  # block scalars: see ALSO_ELSEWHERE
            if not node.value or config_edit.is_reference(node.value) or "${" in node.value:
                continue
            start, end = node.start_mark.index, node.end_mark.index
            if node.style:
                start, end = start + 1, end - 1
            spans.add((start, end))
    return sorted(spans)


def _find(node, pattern):
    if not pattern:
        yield node
        return
    if not isinstance(node, yaml.MappingNode):
        return
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and pattern[0] in ("*", key.value):
            yield from _find(value, pattern[1:])


def hidden_texts(text):
    """The distinct texts `conceal` hides, in order; placeholder n stands for the n-th."""
    seen = []
    for start, end in secret_spans(text):
        if text[start:end] not in seen:
            seen.append(text[start:end])
    return seen


def conceal(text):
    hidden = hidden_texts(text)
    out = text
    for start, end in reversed(secret_spans(text)):
        out = out[:start] + PLACEHOLDER.format(hidden.index(text[start:end]) + 1) + out[end:]
    for i, secret in sorted(enumerate(hidden, 1), key=lambda pair: -len(pair[1])):
        if len(secret) >= ALSO_ELSEWHERE:
            out = out.replace(secret, PLACEHOLDER.format(i))
    return out


def reveal(text, original):
    """Put back the secrets `conceal(original)` hid (highest number first: -1 is inside -10)."""
    for i, secret in reversed(list(enumerate(hidden_texts(original), 1))):
        text = text.replace(PLACEHOLDER.format(i), secret)
    return text


def page(text=None, version=None, errors=None, status=200, **extra):
    path = config_path()
    if path is not None and text is None:
        snapshot = config_edit.read(path)
        text, version = conceal(snapshot.text), snapshot.version
    return render("config.html", "_config.html", status=status, path=path, text=text or "", version=version,
                  errors=errors or [], backup=config_edit.backup_path(path) if path else None,
                  loaded_at=gateway().config_loaded_at, **extra)


@pages.get("/config")
def config_file():
    """The file as it is on disk (literal secrets hidden)."""
    return page()


@pages.post("/config")
def save_config():
    """Check, or check and save, the edited text."""
    path = config_path()
    if path is None:
        return page(status=409)
    shown = request.form.get("text", "").replace("\r\n", "\n")
    version = request.form.get("version", "")
    try:
        current = config_edit.read(path)
        text = reveal(shown, current.text)
        if request.form.get("action") == "check":
            config_edit.validate(text, path)
            return page(shown, version, checked=True)
        saved = config_edit.save_text(path, text, version)
    except config_edit.Conflict as e:
        return page(shown, version, [str(e)], status=409, conflict=True)
    except ConfigError as e:
        return page(shown, version, e.problems, status=422)
    gateway().apply(saved.config)
    return page(notice="Saved. Every worker applies it within a second or so.")
