"""OpenAI Chat Completions tables used by both directions: finish reasons each way."""

# upstream finish_reason -> unified
FINISH_FROM_WIRE = {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "function_call": "tool_calls",
                    "content_filter": "content_filter"}
# unified -> the finish_reason an OpenAI client sees
FINISH_TO_WIRE = {"stop": "stop", "stop_sequence": "stop", "length": "length", "tool_calls": "tool_calls",
                  "content_filter": "content_filter"}
