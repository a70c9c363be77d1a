"""Usage accounting: one record per request through `/v1/*`."""
