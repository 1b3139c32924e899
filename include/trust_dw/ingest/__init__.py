"""Loss-free ingest of the landing feeds (DESIGN §3, §4): ``_SUCCESS`` gating, typing, quarantine,
load ledger, idempotent loads. See docs/ingest.md.

- ``readers``: landing files → streams of all-string Arrow record batches with line numbers (CSV via
  pyarrow, Parquet), checked as a whole in a chunked pre-pass; a file is never held in memory whole
- ``validation``: the DuckDB query that types every row and finds its first fault
- ``ledger``: the raw and ingest tables and the one-transaction partition swap
- ``loader``: ``ingest_feed``, ``ingest_ds``, ``feed_ready``
"""

from trust_dw.ingest.errors import BadFileError, FeedNotReady, IngestError
from trust_dw.ingest.loader import (
    IngestBatchError,
    LoadResult,
    feed_ready,
    ingest_ds,
    ingest_feed,
    landing_folder,
)

__all__ = [
    "BadFileError",
    "FeedNotReady",
    "IngestBatchError",
    "IngestError",
    "LoadResult",
    "feed_ready",
    "ingest_ds",
    "ingest_feed",
    "landing_folder",
]
