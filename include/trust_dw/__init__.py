"""Trust-commerce warehouse: generate, ingest, transform (dbt), gate (GX) and publish."""

__version__ = "0.1.0"
