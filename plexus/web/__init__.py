"""The HTTP layer: Flask views that turn requests into core calls and replies into responses."""
