"""OpenAI Responses: the client side (client.py, with its stored conversations), the upstream side (upstream.py), their shared tables."""
