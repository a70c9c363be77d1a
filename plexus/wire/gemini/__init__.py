"""Gemini generateContent: the client side (client.py), the upstream side (upstream.py), their shared tables and the schema sanitizer."""
