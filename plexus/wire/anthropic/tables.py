"""Anthropic Messages tables used by both directions: stop reasons each way, the API version we
send, the client headers passed on to an Anthropic upstream."""

VERSION = "2023-06-01"
FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta")

# upstream stop_reason -> unified (several wire reasons fold into one unified reason)
STOP_FROM_WIRE = {"end_turn": "stop", "stop_sequence": "stop_sequence", "max_tokens": "length", "tool_use": "tool_calls",
                  "refusal": "content_filter", "pause_turn": "stop", "model_context_window_exceeded": "length"}
# unified -> the stop_reason an Anthropic client sees
STOP_TO_WIRE = {"stop": "end_turn", "stop_sequence": "stop_sequence", "length": "max_tokens", "tool_calls": "tool_use",
                "content_filter": "refusal"}
