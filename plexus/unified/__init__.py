"""The unified types every wire format parses into and every provider builds from."""
