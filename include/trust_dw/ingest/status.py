"""What has landed and what the ingest made of it, for ``trust-dw status`` (read-only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from trust_dw.config import Settings
from trust_dw.feeds import FEED_NAMES
from trust_dw.ingest.ledger import LEDGER, QUARANTINE
from trust_dw.ingest.readers import SUCCESS_MARKER, list_data_files
from trust_dw.warehouse import connect


@dataclass(frozen=True)
class LedgerStatus:
    status: str
    files: int
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    quarantine_share: float
    drift_columns: str | None
    message: str | None
    loaded_at: datetime


@dataclass(frozen=True)
class FeedDayStatus:
    ds: str
    feed: str
    files_landed: int
    success: bool
    ledger: LedgerStatus | None


@dataclass(frozen=True)
class StatusReport:
    rows: list[FeedDayStatus]
    note: str | None  # why the ledger could not be read, if it could not


def _landed(settings: Settings, feeds: list[str]) -> set[tuple[str, str]]:
    found = set()
    for feed in feeds:
        feed_dir = settings.landing_dir / feed
        if feed_dir.is_dir():
            found |= {(p.name.removeprefix("ds="), feed) for p in feed_dir.glob("ds=*") if p.is_dir()}
    return found


def _read_only(settings: Settings) -> tuple[duckdb.DuckDBPyConnection | None, str | None]:
    if not settings.warehouse_path.exists():
        return None, f"no working file yet at {settings.warehouse_path}: nothing ingested"
    try:
        con = connect(settings, read_only=True)
    except duckdb.IOException as exc:
        return None, f"the working file is busy (a writer holds it), ledger not shown: {exc}"
    tables = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'ingest' and table_name = 'load_ledger'"
    ).fetchall()
    if tables[0][0] == 0:
        con.close()
        return None, "the working file has no ingest tables yet: nothing ingested"
    return con, None


def collect(settings: Settings, ds: str | None, feeds: list[str] | None, last: int = 7) -> StatusReport:
    feeds = list(feeds or FEED_NAMES)
    keys = _landed(settings, feeds)
    ledger: dict[tuple[str, str], LedgerStatus] = {}
    con, note = _read_only(settings)
    if con is not None:
        try:
            rows = con.execute(
                "select ds::varchar, feed, status, files, rows_read, rows_loaded, rows_quarantined, "
                f"quarantine_share, drift_columns, message, loaded_at from {LEDGER} "
                "where list_contains(?, feed)",
                [feeds],
            ).fetchall()
        finally:
            con.close()
        ledger = {(r[0], r[1]): LedgerStatus(*r[2:]) for r in rows}
    keys |= set(ledger)
    if ds is not None:
        keys = {k for k in keys if k[0] == ds} | {(ds, f) for f in feeds}
    else:
        newest = sorted({d for d, _ in keys}, reverse=True)[:last]
        keys = {k for k in keys if k[0] in newest}
    order = {f: i for i, f in enumerate(FEED_NAMES)}
    result = []
    for day, feed in sorted(keys, key=lambda k: (k[0], order.get(k[1], 99))):
        folder = settings.feed_ds_dir(feed, day)
        result.append(
            FeedDayStatus(
                ds=day,
                feed=feed,
                files_landed=len(list_data_files(folder)),
                success=(folder / SUCCESS_MARKER).is_file(),
                ledger=ledger.get((day, feed)),
            )
        )
    return StatusReport(result, note)


def quarantine_sample(
    settings: Settings, ds: str, feeds: list[str] | None, limit: int
) -> tuple[list[tuple[str, str, int]], list[tuple]]:
    """(feed, reason_code, rows) counts and the first ``limit`` quarantined rows of ``ds``."""
    feeds = list(feeds or FEED_NAMES)
    con, _ = _read_only(settings)
    if con is None:
        return [], []
    params = [date.fromisoformat(ds), feeds]
    try:
        reasons = con.execute(
            f"select feed, reason_code, count(*) from {QUARANTINE} where ds = ? and list_contains(?, feed) "
            "group by all order by 1, 3 desc, 2",
            params,
        ).fetchall()
        sample = con.execute(
            "select feed, source_file, source_line, reason_code, reason_detail, raw_row "
            f"from {QUARANTINE} where ds = ? and list_contains(?, feed) "
            "order by feed, source_file, source_line limit ?",
            [*params, limit],
        ).fetchall()
    finally:
        con.close()
    return reasons, sample
