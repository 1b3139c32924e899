"""The ingest's tables in the working DuckDB file (docs/ARCHITECTURE.md, "Working-file tables").

``raw.<feed>`` (typed rows + lineage) and the bookkeeping in schema ``ingest``: ``load_ledger``,
``quarantine``, ``loaded_files``, ``schema_drift``. Every table is keyed by (feed, ds) — or ``_ds`` for
raw — and a load replaces that key's rows in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from trust_dw.feeds import FEEDS, Feed
from trust_dw.ingest.errors import IngestError
from trust_dw.ingest.validation import quote_ident

LEDGER = "ingest.load_ledger"
QUARANTINE = "ingest.quarantine"
LOADED_FILES = "ingest.loaded_files"
SCHEMA_DRIFT = "ingest.schema_drift"

LEDGER_COLUMNS = (
    "feed",
    "ds",
    "status",
    "files",
    "rows_read",
    "rows_loaded",
    "rows_quarantined",
    "quarantine_share",
    "drift_columns",
    "message",
    "loaded_at",
)

_INGEST_DDL = f"""
create schema if not exists raw;
create schema if not exists ingest;
create table if not exists {LEDGER} (
    feed varchar not null,
    ds date not null,
    status varchar not null,
    files integer not null,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    quarantine_share double not null,
    drift_columns varchar,
    message varchar,
    loaded_at timestamptz not null
);
create table if not exists {QUARANTINE} (
    feed varchar not null,
    ds date not null,
    source_file varchar not null,
    source_line bigint not null,
    raw_row varchar,
    reason_code varchar not null,
    reason_detail varchar
);
create table if not exists {LOADED_FILES} (
    feed varchar not null,
    ds date not null,
    source_file varchar not null,
    sha256 varchar not null,
    rows_read bigint not null
);
create table if not exists {SCHEMA_DRIFT} (
    feed varchar not null,
    ds date not null,
    source_file varchar not null,
    column_name varchar not null
);
"""


def raw_table_ddl(feed: Feed) -> str:
    columns = [f"{quote_ident(c.name)} {c.type}{' not null' if c.required else ''}" for c in feed.columns]
    columns += ["_ds date not null", "_source_file varchar not null", "_source_line bigint not null"]
    body = ",\n    ".join(columns)
    return f"create table if not exists {feed.raw_table} (\n    {body}\n)"


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the schemas and tables if missing; refuse a raw table whose columns differ from feeds.py."""
    con.execute(_INGEST_DDL)
    for feed in FEEDS.values():
        con.execute(raw_table_ddl(feed))
        found = [
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'raw' and table_name = ? order by ordinal_position",
                [feed.name],
            ).fetchall()
        ]
        expected = [f.name for f in feed.arrow_schema()]
        if found != expected:
            raise IngestError(
                f"{feed.raw_table} in the working file has columns {found}, the contract (feeds.py) says "
                f"{expected}: migrate or drop the table"
            )


@dataclass(frozen=True)
class LedgerRow:
    feed: str
    ds: date
    status: str
    files: int
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    quarantine_share: float
    drift_columns: str | None
    message: str | None


def ledger_row(con: duckdb.DuckDBPyConnection, feed: str, ds: date) -> LedgerRow | None:
    rows = con.execute(
        f"select {', '.join(LEDGER_COLUMNS[:-1])} from {LEDGER} where feed = ? and ds = ?", [feed, ds]
    ).fetchall()
    return LedgerRow(*rows[0]) if rows else None


def loaded_files(con: duckdb.DuckDBPyConnection, feed: str, ds: date) -> set[tuple[str, str]]:
    rows = con.execute(
        f"select source_file, sha256 from {LOADED_FILES} where feed = ? and ds = ?", [feed, ds]
    )
    return {(f, s) for f, s in rows.fetchall()}


def write_ledger(con: duckdb.DuckDBPyConnection, row: LedgerRow) -> None:
    """Replace the (feed, ds) ledger row (caller holds the transaction)."""
    con.execute(f"delete from {LEDGER} where feed = ? and ds = ?", [row.feed, row.ds])
    con.execute(
        f"insert into {LEDGER} ({', '.join(LEDGER_COLUMNS)}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
        [
            row.feed,
            row.ds,
            row.status,
            row.files,
            row.rows_read,
            row.rows_loaded,
            row.rows_quarantined,
            row.quarantine_share,
            row.drift_columns,
            row.message,
        ],
    )


def record_failure(con: duckdb.DuckDBPyConnection, row: LedgerRow) -> None:
    """Only the ledger row changes on a failed load: raw, quarantine and the rest keep the previous state."""
    con.execute("begin transaction")
    try:
        write_ledger(con, row)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def replace_partition(
    con: duckdb.DuckDBPyConnection,
    feed: Feed,
    ds: date,
    checked_table: str,
    quarantine_view: str,
    files_view: str,
    drift_view: str,
    ledger: LedgerRow,
) -> None:
    """Swap in the new state of (feed, ds) in one transaction.

    Raw partition, quarantine, loaded files, drift and ledger row all change together or not at all.
    """
    columns = ", ".join(quote_ident(c) for c in feed.column_names)
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {feed.raw_table} where _ds = ?", [ds])
        con.execute(
            f"insert into {feed.raw_table} ({columns}, _ds, _source_file, _source_line) "
            f"select {columns}, ?::date, _source_file, _source_line from {checked_table} "
            "where _reason_code is null",
            [ds],
        )
        for table, view, cols in (
            (QUARANTINE, quarantine_view, "source_file, source_line, raw_row, reason_code, reason_detail"),
            (LOADED_FILES, files_view, "source_file, sha256, rows_read"),
            (SCHEMA_DRIFT, drift_view, "source_file, column_name"),
        ):
            con.execute(f"delete from {table} where feed = ? and ds = ?", [feed.name, ds])
            con.execute(
                f"insert into {table} (feed, ds, {cols}) select ?, ?::date, {cols} from {view} order by all",
                [feed.name, ds],
            )
        write_ledger(con, ledger)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
