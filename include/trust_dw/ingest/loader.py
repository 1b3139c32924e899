"""Load one feed's landing folder for a ds into the working DuckDB file (DESIGN §3, §4).

Steps: ``_SUCCESS`` gate → list and hash the data files → unchanged (same paths + sha256 as the last
successful load)? stop → check every file as a whole (``read_file``) → stream the rows of every file,
as strings, into one DuckDB query that types and checks them into a temp table (file-level faults, in
the pre-pass or in the stream, fail the feed: ledger 'failed', nothing else touched) → swap the ds's
raw partition, quarantine, loaded files, drift and ledger row in one transaction.

Memory: the process holds one record batch of one file at a time; the typed rows live in DuckDB, under
``memory_limit`` (spilling to the temp directory), never as a whole-file Arrow table in Python.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from trust_dw.config import Settings
from trust_dw.feeds import FEED_NAMES, FEEDS, Feed
from trust_dw.ingest import ledger as ledger_tables
from trust_dw.ingest.errors import BadFileError, FeedNotReady, IngestError
from trust_dw.ingest.ledger import LedgerRow
from trust_dw.ingest.readers import (
    LINE,
    RECORD,
    SUCCESS_MARKER,
    FileRows,
    NeedsSerialParse,
    ReadAgain,
    UnusualLayout,
    list_data_files,
    read_csv_in_memory,
    read_file,
    sha256_of,
)
from trust_dw.ingest.validation import checked_rows_sql
from trust_dw.warehouse import connect

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())  # warnings reach Airflow's handlers; no stray stderr lines in the CLI

_SOURCE = "_ingest_source"
_CHECKED = "_ingest_checked"
_QUARANTINE = "_ingest_quarantine_rows"
_FILES = "_ingest_file_rows"
_DRIFT = "_ingest_drift_rows"


@dataclass(frozen=True)
class LoadResult:
    """What one (feed, ds) load did. ``status``: 'loaded', 'unchanged', 'failed' or 'not_ready'."""

    feed: str
    ds: date
    status: str
    files: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    quarantine_share: float = 0.0
    drift_columns: tuple[str, ...] = ()
    message: str | None = None

    @classmethod
    def from_ledger(cls, row: LedgerRow, status: str | None = None) -> LoadResult:
        drift = tuple(row.drift_columns.split(", ")) if row.drift_columns else ()
        return cls(
            feed=row.feed,
            ds=row.ds,
            status=status or row.status,
            files=row.files,
            rows_read=row.rows_read,
            rows_loaded=row.rows_loaded,
            rows_quarantined=row.rows_quarantined,
            quarantine_share=row.quarantine_share,
            drift_columns=drift,
            message=row.message,
        )


class IngestBatchError(IngestError):
    """One or more feeds of ``ingest_ds`` failed; ``results`` holds every feed's outcome."""

    def __init__(self, message: str, results: list[LoadResult]) -> None:
        super().__init__(message)
        self.results = results


def _as_feed(feed: Feed | str) -> Feed:
    if isinstance(feed, Feed):
        return feed
    try:
        return FEEDS[feed]
    except KeyError:
        raise IngestError(f"unknown feed {feed!r}; feeds are: {', '.join(FEED_NAMES)}") from None


def _as_date(ds: date | str) -> date:
    if isinstance(ds, date):
        return ds
    try:
        return date.fromisoformat(ds)
    except ValueError:
        raise IngestError(f"ds must be a date YYYY-MM-DD, got {ds!r}") from None


def landing_folder(settings: Settings, feed: Feed | str, ds: date | str) -> Path:
    return settings.feed_ds_dir(_as_feed(feed).name, _as_date(ds).isoformat())


def feed_ready(settings: Settings, feed: Feed | str, ds: date | str) -> bool:
    """True when the landing folder of (feed, ds) holds its ``_SUCCESS`` marker (the drop is complete)."""
    return (landing_folder(settings, feed, ds) / SUCCESS_MARKER).is_file()


@contextmanager
def _connection(settings: Settings, con: duckdb.DuckDBPyConnection | None):
    if con is not None:
        yield con
        return
    try:
        own = connect(settings)
    except duckdb.IOException as exc:
        raise IngestError(
            f"cannot open the working file {settings.warehouse_path} for writing: {exc} "
            "(one writer at a time: is dbt or another ingest running?)"
        ) from None
    try:
        yield own
    finally:
        own.close()


def ingest_feed(
    settings: Settings, feed: Feed | str, ds: date | str, con: duckdb.DuckDBPyConnection | None = None
) -> LoadResult:
    """Load ``landing/<feed>/ds=<ds>/`` into ``raw.<feed>`` (partition ``_ds = ds``) and the ingest tables.

    Raises ``FeedNotReady`` without ``_SUCCESS`` (nothing loaded, no ledger row) and ``BadFileError`` on
    a file-level fault (ledger row 'failed' with the message; the previous partition stays as it was).
    """
    feed, ds = _as_feed(feed), _as_date(ds)
    folder = landing_folder(settings, feed, ds)
    if not feed_ready(settings, feed, ds):
        why = "has no _SUCCESS marker" if folder.is_dir() else "does not exist"
        raise FeedNotReady(f"{folder} {why}: the {feed.name} drop for {ds} is not complete, nothing loaded")

    paths = list_data_files(folder)
    names = [p.relative_to(settings.landing_dir).as_posix() for p in paths]
    hashes = [sha256_of(p) for p in paths]
    with _connection(settings, con) as con:
        ledger_tables.ensure_tables(con)
        previous = ledger_tables.ledger_row(con, feed.name, ds)
        if (
            previous is not None
            and previous.status == "loaded"
            and ledger_tables.loaded_files(con, feed.name, ds) == set(zip(names, hashes, strict=True))
        ):
            log.info("%s %s: unchanged (same %d file(s), same sha256)", feed.name, ds, len(paths))
            return LoadResult.from_ledger(previous, status="unchanged")

        try:
            reads = [read_file(p, name, feed) for p, name in zip(paths, names, strict=True)]
            return _load(con, feed, ds, reads, hashes)
        except BadFileError as exc:  # found by the pre-pass or while streaming: nothing of the feed loaded
            failed = LedgerRow(feed.name, ds, "failed", len(paths), 0, 0, 0, 0.0, None, str(exc))
            ledger_tables.record_failure(con, failed)
            log.error("%s %s: %s", feed.name, ds, exc)
            raise
        except duckdb.Error as exc:  # a resource fault (memory, temp disk), not the data: name feed and ds
            raise IngestError(
                f"{feed.name} {ds}: loading {len(paths)} file(s) failed in DuckDB, nothing of the feed "
                f"changed (the swap is one transaction): {type(exc).__name__}: {exc}"
            ) from exc


class _SourceStream:
    """Every file's string batches, in file order, as one Arrow stream for DuckDB to scan once.

    An exception raised while reading (a file fault, or a file asking to be read again) reaches DuckDB as
    an anonymous stream error; it is kept in ``error`` so that the loader can act on the original.
    """

    def __init__(self, feed: Feed, reads: list[FileRows]) -> None:
        self.reads = reads
        self.error: Exception | None = None
        fields = [pa.field(c, pa.string()) for c in feed.column_names]
        fields += [pa.field(RECORD, pa.int64()), pa.field(LINE, pa.int64())]
        fields += [pa.field("_file_index", pa.int32()), pa.field("_source_file", pa.string())]
        self.schema = pa.schema(fields)

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.schema, self._batches())

    def _batches(self):
        try:
            for index, rows in enumerate(self.reads):
                for batch in rows.batches():
                    n = batch.num_rows
                    lineage = [
                        pa.repeat(pa.scalar(index, pa.int32()), n),
                        pa.repeat(pa.scalar(rows.source_file, pa.string()), n),
                    ]
                    yield pa.record_batch([*batch.columns, *lineage], schema=self.schema)
        except (BadFileError, ReadAgain) as exc:
            self.error = exc
            raise


def _quarantine_table(faults: pa.Table, reads: list[FileRows]) -> pa.Table:
    """Rows that failed a check (with their raw text) plus the malformed rows of every file."""
    columns: dict[str, list] = {
        k: [] for k in ("source_file", "source_line", "raw_row", "reason_code", "reason_detail")
    }
    faults = faults.sort_by([("_file_index", "ascending"), ("_record", "ascending")])
    file_index = faults.column("_file_index").to_numpy()
    for index, rows in enumerate(reads):
        mask = file_index == index
        if mask.any():
            selected = faults.filter(pa.array(mask))
            columns["source_file"] += [rows.source_file] * selected.num_rows
            columns["source_line"] += selected.column("_source_line").to_pylist()
            columns["raw_row"] += rows.raw_rows(selected.column("_record").to_pylist())
            columns["reason_code"] += selected.column("_reason_code").to_pylist()
            columns["reason_detail"] += selected.column("_reason_detail").to_pylist()
        for bad in rows.malformed:
            columns["source_file"].append(rows.source_file)
            columns["source_line"].append(bad.line)
            columns["raw_row"].append(bad.raw_row)
            columns["reason_code"].append("malformed_row")
            columns["reason_detail"].append(bad.detail)
    return pa.table(
        {
            "source_file": pa.array(columns["source_file"], pa.string()),
            "source_line": pa.array(columns["source_line"], pa.int64()),
            "raw_row": pa.array(columns["raw_row"], pa.string()),
            "reason_code": pa.array(columns["reason_code"], pa.string()),
            "reason_detail": pa.array(columns["reason_detail"], pa.string()),
        }
    )


def _load(
    con: duckdb.DuckDBPyConnection, feed: Feed, ds: date, reads: list[FileRows], hashes: list[str]
) -> LoadResult:
    # The check query sorts by file, then line (a parallel scan does not keep order by itself); the insert
    # keeps that order into raw.<feed>. No progress bar on stdout.
    con.execute("set preserve_insertion_order = true")
    con.execute("set enable_progress_bar = false")
    # The typed rows go into a DuckDB temp table, not back to Python: DuckDB's buffer manager holds them
    # under memory_limit (spilling to temp_directory). Dropped after the swap (or the failure).
    _check_into_temp_table(con, feed, ds, reads)
    try:
        return _swap_in(con, feed, ds, reads, hashes)
    finally:
        con.execute(f"drop table if exists {_CHECKED}")


def _check_into_temp_table(
    con: duckdb.DuckDBPyConnection, feed: Feed, ds: date, reads: list[FileRows]
) -> None:
    """Stream every file through the check query into _CHECKED; a file that asks for it is read again.

    A threaded CSV parse that met a malformed row is redone serially (to number it); a CSV whose records
    turned out not to be one per line is redone in memory (exact line numbers). Each at most once per file.
    """
    retried: set[tuple[int, type]] = set()
    while True:
        stream = _SourceStream(feed, reads)
        con.register(_SOURCE, stream.reader())
        try:
            con.execute(f"create or replace temp table {_CHECKED} as {checked_rows_sql(feed, ds, _SOURCE)}")
            return
        except duckdb.Error:
            error = stream.error
            if error is None:
                raise
            if isinstance(error, BadFileError):
                raise error from None
            index = reads.index(error.file)
            if (index, type(error)) in retried:  # pragma: no cover - a reader that never settles
                raise IngestError(f"{feed.name} {ds}: {error} (again, after reading it again)") from None
            retried.add((index, type(error)))
            log.info("%s %s: reading again: %s", feed.name, ds, error)
            if isinstance(error, NeedsSerialParse):
                error.file.threaded = False
            elif isinstance(error, UnusualLayout):
                reads[index] = read_csv_in_memory(error.file)
        finally:
            con.unregister(_SOURCE)


def _swap_in(
    con: duckdb.DuckDBPyConnection, feed: Feed, ds: date, reads: list[FileRows], hashes: list[str]
) -> LoadResult:
    """Quarantine, ledger and the transactional swap of the rows checked into the temp table _CHECKED."""
    faults = con.sql(
        f"select _file_index, _record, _source_line, _reason_code, _reason_detail from {_CHECKED} "
        "where _reason_code is not null"
    ).to_arrow_table()
    [(rows_checked,)] = con.execute(f"select count(*) from {_CHECKED}").fetchall()
    quarantine = _quarantine_table(faults, reads)
    rows_loaded = rows_checked - faults.num_rows
    rows_read = sum(r.rows_read for r in reads)
    rows_quarantined = quarantine.num_rows
    if rows_read != rows_loaded + rows_quarantined:  # the loss-free invariant; never expected to fire
        raise IngestError(
            f"{feed.name} {ds}: rows_read {rows_read} != loaded {rows_loaded} "
            f"+ quarantined {rows_quarantined}"
        )
    files = pa.table(
        {
            "source_file": pa.array([r.source_file for r in reads], pa.string()),
            "sha256": pa.array(hashes, pa.string()),
            "rows_read": pa.array([r.rows_read for r in reads], pa.int64()),
        }
    )
    drift_pairs = [(r.source_file, c) for r in reads for c in r.extra_columns]
    drift = pa.table(
        {
            "source_file": pa.array([f for f, _ in drift_pairs], pa.string()),
            "column_name": pa.array([c for _, c in drift_pairs], pa.string()),
        }
    )
    drift_columns = tuple(sorted({c for _, c in drift_pairs}))
    warnings = [w for r in reads for w in r.all_warnings()]
    if drift_pairs:
        drift_text = "; ".join(f"{f}: {c}" for f, c in drift_pairs)
        warnings.append(f"schema drift, unknown column(s) kept out of {feed.raw_table}: {drift_text}")
    if not reads:
        warnings.append("no data files in the folder: 0 rows")
    for warning in warnings:
        log.warning("%s %s: %s", feed.name, ds, warning)
    row = LedgerRow(
        feed=feed.name,
        ds=ds,
        status="loaded",
        files=len(reads),
        rows_read=rows_read,
        rows_loaded=rows_loaded,
        rows_quarantined=rows_quarantined,
        quarantine_share=rows_quarantined / rows_read if rows_read else 0.0,
        drift_columns=", ".join(drift_columns) or None,
        message="; ".join(warnings) or None,
    )
    views = {_QUARANTINE: quarantine, _FILES: files, _DRIFT: drift}
    for name, table in views.items():
        con.register(name, table)
    try:
        ledger_tables.replace_partition(con, feed, ds, _CHECKED, _QUARANTINE, _FILES, _DRIFT, row)
    finally:
        for name in views:
            con.unregister(name)
    result = LoadResult.from_ledger(row)
    log.info(
        "%s %s: loaded %d of %d row(s) from %d file(s), %d quarantined",
        feed.name,
        ds,
        result.rows_loaded,
        result.rows_read,
        result.files,
        result.rows_quarantined,
    )
    return result


def ingest_ds(
    settings: Settings, ds: date | str, feeds: list[str] | tuple[str, ...] | None = None
) -> list[LoadResult]:
    """Ingest every feed (or ``feeds``) for ``ds``; each feed is its own transaction.

    Every feed is attempted; if any is not ready or fails, ``IngestBatchError`` is raised at the end with
    all the messages and ``results`` (the failed/not-ready feeds included).
    """
    ds = _as_date(ds)
    selected = [_as_feed(f) for f in (feeds or FEED_NAMES)]
    results: list[LoadResult] = []
    errors: list[str] = []
    with _connection(settings, None) as con:
        for feed in selected:
            try:
                results.append(ingest_feed(settings, feed, ds, con))
            except FeedNotReady as exc:
                results.append(LoadResult(feed.name, ds, "not_ready", message=str(exc)))
                errors.append(str(exc))
            except IngestError as exc:
                failed = ledger_tables.ledger_row(con, feed.name, ds)
                result = LoadResult.from_ledger(failed) if failed else LoadResult(feed.name, ds, "failed")
                results.append(replace(result, status="failed", message=str(exc)))
                errors.append(str(exc))
    if errors:
        raise IngestBatchError("\n".join(errors), results)
    return results
