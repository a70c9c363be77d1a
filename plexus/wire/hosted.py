"""The fate of a client's hosted (server-side) tools at a provider of another family.

Each provider module says which capabilities it has a native tool for (`natives`: kind -> a
function of the client's spec giving the provider's tool). A hosted tool with such a kind is mapped;
any other is dropped (named in `req["dropped_tools"]`, which the pipeline logs and returns in the
`x-plexus-dropped-tools` header) or, with the provider's `unsupported_tools: error`, refused."""

from typing import Any, Callable, Mapping

from ..core.errors import InvalidRequest

DROP, ERROR = "drop", "error"


def place(req: dict, natives: Mapping[str, Callable[[dict], dict]], provider: Any) -> list[dict]:
    """The provider's tools for the request's hosted tools; records what it has to leave out."""
    out, dropped = [], []
    for tool in req.get("hosted_tools") or ():
        native = natives.get(tool["kind"])
        if native is not None:
            out.append(native(tool["spec"]))
        else:
            dropped.append(tool["label"])
    if dropped and getattr(provider, "unsupported_tools", DROP) == ERROR:
        names = ", ".join(dropped)
        raise InvalidRequest(f"tools: {names} cannot be used with provider '{getattr(provider, 'id', '?')}' "
                             f"(type {getattr(provider, 'type', '?')}), which has no equivalent; it is configured "
                             "with unsupported_tools: error", param="tools")
    req["dropped_tools"] = dropped
    _unforce(req, {t.get("name") for t in out})
    return out


def _unforce(req: dict, kept_names: set) -> None:
    """A tool_choice forcing a hosted tool that is not there under its name (left out, or placed as
    a nameless native tool) lets the model choose instead: the provider would refuse the choice."""
    choice = req.get("tool_choice")
    if not choice or choice.get("type") != "tool":
        return
    hosted_names = {t["spec"].get("name") for t in req.get("hosted_tools") or ()}
    if choice.get("name") in hosted_names - kept_names:
        req["tool_choice"] = {"type": "auto"}
