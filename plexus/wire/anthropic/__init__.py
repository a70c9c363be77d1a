"""Anthropic Messages: the client side (client.py), the upstream side (upstream.py), their shared tables."""
