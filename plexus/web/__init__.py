"""The HTTP surface: the /v1 API, the management API, the /metrics scrape and the dashboard."""
