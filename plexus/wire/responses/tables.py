"""OpenAI Responses tables used by both directions: why a response is incomplete, each way."""

# upstream incomplete_details.reason -> unified stop reason
INCOMPLETE_FROM_WIRE = {"max_output_tokens": "length", "content_filter": "content_filter"}
# unified stop reason -> incomplete_details.reason (other reasons: the response is completed)
INCOMPLETE_TO_WIRE = {"length": "max_output_tokens", "content_filter": "content_filter"}
