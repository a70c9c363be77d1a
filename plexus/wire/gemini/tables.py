"""Gemini tables used by both directions: finish reasons each way."""

# upstream finishReason -> unified
FINISH_FROM_WIRE = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter",
                    "LANGUAGE": "content_filter", "BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter",
                    "SPII": "content_filter", "IMAGE_SAFETY": "content_filter", "IMAGE_PROHIBITED_CONTENT": "content_filter",
                    "IMAGE_RECITATION": "content_filter", "IMAGE_OTHER": "content_filter", "MODEL_ARMOR": "content_filter"}
# unified -> the finishReason a Gemini client sees
FINISH_TO_WIRE = {"stop": "STOP", "stop_sequence": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP",
                  "content_filter": "SAFETY"}
