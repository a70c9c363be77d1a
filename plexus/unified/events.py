"""Unified stream events: what every provider's stream parser produces and every client style's
renderer consumes. Small NamedTuples (a tuple each, no validation on the hot path), one type per
kind, so a renderer dispatches on `type(event)` and reads named fields.

Order: Start first; then any of Text, Reasoning, Signature, Redacted, ThoughtSignature, ToolStart,
ToolArgs, BlockEnd; then Stop and UsageReport (either order, UsageReport may repeat: the last one
wins); or Failure at any point. `plexus.unified.fold.Outcome` folds Stop, UsageReport and Failure
into a stream's outcome."""

from typing import Any, NamedTuple

from .usage import Usage


class Start(NamedTuple):
    id: str
    model: str
    usage: Usage | None = None  # the prompt's count, when the provider says it up front


class Text(NamedTuple):
    text: str


class Reasoning(NamedTuple):
    text: str


class Signature(NamedTuple):
    """Closes the current reasoning block's signature (Anthropic)."""

    signature: str


class Redacted(NamedTuple):
    """A whole redacted reasoning block's data (Anthropic)."""

    data: str


class ThoughtSignature(NamedTuple):
    """Gemini's signature for the text or reasoning just streamed (an empty text part when none is
    open); a call's own is in ToolStart."""

    signature: str
    on: str  # "text" | "reasoning"


class ToolStart(NamedTuple):
    index: int  # 0.. among the stream's tool calls
    id: str
    name: str
    thought_signature: str | None = None


class ToolArgs(NamedTuple):
    index: int
    delta: str  # a fragment; fragments concatenate


class BlockEnd(NamedTuple):
    """The upstream closed its current content block."""


class Stop(NamedTuple):
    reason: str  # a StopReason
    stop_sequence: str | None = None


class UsageReport(NamedTuple):
    usage: Usage  # cumulative


class Failure(NamedTuple):
    error: Any  # a GatewayError


BLOCK_END = BlockEnd()  # it carries nothing: one instance serves every stream
