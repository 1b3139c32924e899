"""Errors raised by the ingest. Every message names the folder or file and the fault."""

from __future__ import annotations


class IngestError(Exception):
    """A feed's load for a ds failed; nothing of that feed's ds was changed."""


class FeedNotReady(IngestError):
    """The landing folder has no ``_SUCCESS`` marker (or does not exist): the drop is not complete."""


class BadFileError(IngestError):
    """A file-level fault: not UTF-8, not parseable, a required column missing, unreadable Parquet."""
