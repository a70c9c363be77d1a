"""Usage accounting: one record per request through `/v1/*` (record.py), turned into a stored row
with its tokens and cost (row.py, pricing.py), written off the request path (writer.py, with the
fallback spool in fallback.py), read back through the usage API's parameters and summaries
(params.py, summary.py). Where rows are stored is plexus/storage/; plexus/services.py starts and
closes the writer."""

from dataclasses import dataclass

from .writer import UsageWriter


@dataclass(frozen=True)
class UsageAccounting:
    """The usage store (storage.base.UsageStore) and the writer that feeds it, as the management API
    and the dashboard find them (`app.extensions["plexus.usage"]`)."""

    store: object
    writer: UsageWriter
