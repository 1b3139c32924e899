"""Read one landing file into an all-string Arrow table that keeps each row's line number.

CSV is parsed by ``pyarrow.csv`` with every column typed as string (typing and checks happen later,
in DuckDB, see ``validation.py``). Rows with the wrong number of fields are caught by the
``invalid_row_handler`` and kept, with their line number and raw text, as ``malformed_row``.

Line numbers are physical lines of the file (header = line 1). pyarrow only reports record ordinals,
so they are mapped to lines: on the usual file (one record per line, no blank lines — checked by
counting newlines) record ``n`` is line ``n``; otherwise (blank lines, quoted values spanning lines,
bare CR line ends) a second pass with Python's ``csv`` module finds where each record starts. That
slow pass only runs for such unusual files.

File-level faults raise ``BadFileError`` naming the file: not UTF-8, an unterminated quoted field,
duplicate or missing required columns in the header, unreadable Parquet.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from trust_dw.feeds import Feed
from trust_dw.ingest.errors import BadFileError

DATA_SUFFIXES = (".csv", ".parquet")
SUCCESS_MARKER = "_SUCCESS"
# Lineage columns carried by every string table read from a file.
RECORD = "_record"  # record ordinal in the file (CSV: header = 1; Parquet: row index)
LINE = "_source_line"

_QUOTED_FIELD = re.compile(r'"[^"]*(?:""[^"]*)*"')


def list_data_files(folder: Path) -> list[Path]:
    """The data files of a landing folder, sorted by name; ``_SUCCESS``, dotfiles and others ignored."""
    if not folder.is_dir():
        return []
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith((".", "_")) and p.suffix.lower() in DATA_SUFFIXES
    ]
    return sorted(files, key=lambda p: p.name)


def sha256_of(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclass(frozen=True)
class MalformedRow:
    line: int
    raw_row: str
    detail: str


@dataclass
class FileRows:
    """One landing file read as strings.

    ``table`` has the feed's columns in contract order (strings, NULL for empty values and for
    optional columns absent from the file), then ``_record`` and ``_source_line``.
    """

    source_file: str
    table: pa.Table | None
    malformed: list[MalformedRow] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    raw_rows: Callable[[Sequence[int]], list[str]] = lambda records: ["" for _ in records]
    rows_read: int = field(init=False)

    def __post_init__(self) -> None:
        self.rows_read = self.table.num_rows + len(self.malformed)

    def release_table(self) -> None:
        """Drop the string rows once they are checked (``raw_rows`` still works)."""
        self.table = None


def read_file(path: Path, source_file: str, feed: Feed) -> FileRows:
    if path.suffix.lower() == ".parquet":
        return read_parquet(path, source_file, feed)
    return read_csv(path, source_file, feed)


# --- header ---------------------------------------------------------------------------------------


def _check_header(path: Path, header: list[str], feed: Feed) -> tuple[list[str], list[str]]:
    """Raise on duplicate or missing required columns; return (extra columns, missing optional ones)."""
    duplicates = sorted(name for name, count in Counter(header).items() if count > 1)
    if duplicates:
        raise BadFileError(f"{path}: duplicate column(s) in the header: {', '.join(duplicates)}")
    seen = set(header)
    missing = [c for c in feed.required_columns if c not in seen]
    if missing:
        raise BadFileError(
            f"{path}: required column(s) missing from the header: {', '.join(missing)} "
            f"(header has: {', '.join(header) or 'nothing'})"
        )
    extra = [n for n in header if n not in feed.column_names]
    missing_optional = [c for c in feed.column_names if c not in seen]
    return extra, missing_optional


def _absent_optional_warning(source_file: str, missing_optional: list[str]) -> list[str]:
    if not missing_optional:
        return []
    return [f"{source_file}: optional column(s) absent, loaded as NULL: {', '.join(missing_optional)}"]


def _contract_table(table: pa.Table, feed: Feed, records: np.ndarray, lines: np.ndarray) -> pa.Table:
    """The feed's columns in contract order (absent optional ones as NULL strings) + lineage."""
    n = table.num_rows
    arrays = [
        table.column(c) if c in table.column_names else pa.nulls(n, pa.string()) for c in feed.column_names
    ]
    arrays += [pa.array(records, pa.int64()), pa.array(lines, pa.int64())]
    return pa.table(arrays, names=[*feed.column_names, RECORD, LINE])


def _empty(source_file: str, feed: Feed, warning: str) -> FileRows:
    table = _contract_table(pa.table({}), feed, np.zeros(0, np.int64), np.zeros(0, np.int64))
    return FileRows(source_file, table, warnings=[warning])


# --- CSV ------------------------------------------------------------------------------------------


class _LineIndex:
    """Physical line <-> byte offsets of a file, built on first use (only quarantined rows need it).

    The file is read again then, so its bytes are not held in memory while the load runs.
    """

    def __init__(self, path: Path, skip: int) -> None:
        self._path = path
        self._skip = skip  # a UTF-8 BOM
        self._body = b""
        self._starts: np.ndarray | None = None

    def text(self, first_line: int, last_line: int) -> str:
        if self._starts is None:
            self._body = self._path.read_bytes()[self._skip :]
            newlines = np.flatnonzero(np.frombuffer(self._body, np.uint8) == 10)
            self._starts = np.concatenate([[0], newlines + 1, [len(self._body) + 1]])
        start, end = int(self._starts[first_line - 1]), int(self._starts[last_line]) - 1
        return self._body[start:end].decode("utf-8").rstrip("\r\n")


def _records_by_csv_module(text: str) -> tuple[list[int], list[int], list[str]]:
    """Start and end line of every non-blank record, and the lines (slow path, unusual files only)."""
    lines = list(io.StringIO(text, newline=""))
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))  # a value may be as long as the file
    reader = csv.reader(iter(lines))
    starts, ends = [0], [0]  # index 0 unused: record ordinals are 1-based
    previous_end = 0
    for row in reader:
        if row:
            starts.append(previous_end + 1)
            ends.append(reader.line_num)
        previous_end = reader.line_num
    return starts, ends, lines


def _unterminated_quote(record: str) -> bool:
    """True if the record ends inside a quoted field (pyarrow semantics: quotes open only at field start)."""
    pos = 0
    while True:
        if record.startswith('"', pos):
            match = _QUOTED_FIELD.match(record, pos)
            if match is None:
                return True
            pos = match.end()
        comma = record.find(",", pos)
        if comma < 0:
            return False
        pos = comma + 1


def _check_utf8(path: Path, data: bytes) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadFileError(f"{path}: not valid UTF-8 at byte {exc.start} ({exc.reason})") from None


def _header(body: bytes) -> list[str] | None:
    """The first non-blank record (read from the start of the file only)."""
    head = body[: 1 << 20].decode("utf-8", errors="replace")
    return next((row for row in csv.reader(io.StringIO(head, newline="")) if row), None)


def _parse(body: bytes, header: list[str], feed: Feed, threaded: bool) -> tuple[pa.Table, list[tuple]]:
    invalid: list[tuple[int | None, str, int, int]] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        invalid.append((row.number, row.text, row.expected_columns, row.actual_columns))
        return "skip"

    table = pacsv.read_csv(
        pa.BufferReader(body),
        read_options=pacsv.ReadOptions(use_threads=threaded, block_size=8 << 20),
        parse_options=pacsv.ParseOptions(
            # quoted values may hold line breaks (RFC 4180); without any quote the faster chunker is exact
            newlines_in_values=b'"' in body,
            invalid_row_handler=on_invalid_row,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            include_columns=[c for c in feed.column_names if c in header],
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    return table, invalid


def read_csv(path: Path, source_file: str, feed: Feed) -> FileRows:
    data = path.read_bytes()
    _check_utf8(path, data)
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    body = data[bom:] if bom else data
    del data

    header = _header(body)
    if header is None:
        size = "0 bytes" if not body else "only blank lines"
        return _empty(source_file, feed, f"{source_file}: empty file ({size}), no header: 0 rows")
    extra, missing_optional = _check_header(path, header, feed)

    try:
        # Threaded parsing does not number malformed rows: parse again serially when there are some.
        table, invalid = _parse(body, header, feed, threaded=True)
        if invalid:
            table, invalid = _parse(body, header, feed, threaded=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise BadFileError(f"{path}: not parseable as CSV: {exc}") from None

    n_records = 1 + table.num_rows + len(invalid)  # the header is record 1
    expected_newlines = n_records if body.endswith(b"\n") else n_records - 1
    bare_cr = b"\r" in body and body.count(b"\r") != body.count(b"\r\n")
    if body.count(b"\n") == expected_newlines and not bare_cr:  # one record per line: record n = line n
        starts = ends = np.arange(n_records + 1, dtype=np.int64)
        line_text = _LineIndex(path, bom).text
        last_start = body.rfind(b"\n", 0, len(body) - 1) + 1
        last_record = body[last_start:].decode("utf-8").rstrip("\r\n")
    else:
        try:
            start_list, end_list, lines = _records_by_csv_module(body.decode("utf-8"))
        except csv.Error as exc:
            raise BadFileError(f"{path}: not parseable as CSV: {exc}") from None
        if len(start_list) - 1 != n_records:
            raise BadFileError(
                f"{path}: not parseable as CSV: records could not be delimited consistently "
                f"({n_records} by pyarrow, {len(start_list) - 1} by line scan)"
            )
        starts, ends = np.asarray(start_list, np.int64), np.asarray(end_list, np.int64)

        def line_text(first: int, last: int) -> str:
            return "".join(lines[first - 1 : last]).rstrip("\r\n")

        last_record = line_text(int(starts[n_records]), int(ends[n_records]))

    if b'"' in body and _unterminated_quote(last_record):
        raise BadFileError(
            f"{path}: not parseable as CSV: unterminated quoted field in the record starting at line "
            f"{int(starts[n_records])}"
        )

    if any(number is None for number, *_ in invalid):  # the serial parse always numbers them
        raise BadFileError(f"{path}: pyarrow did not report the record number of a malformed row")
    invalid_numbers = np.asarray([number for number, *_ in invalid], np.int64)
    good = np.setdiff1d(np.arange(2, n_records + 1, dtype=np.int64), invalid_numbers, assume_unique=True)
    malformed = [
        MalformedRow(
            line=int(starts[number]),
            raw_row=raw.rstrip("\r\n"),
            detail=f"expected {expected} fields, found {actual}",
        )
        for number, raw, expected, actual in invalid
    ]

    def raw_rows(records: Sequence[int]) -> list[str]:
        return [line_text(int(starts[r]), int(ends[r])) for r in records]

    warnings = _absent_optional_warning(source_file, missing_optional)
    if table.num_rows + len(invalid) == 0:
        warnings.append(f"{source_file}: header only, 0 rows")
    return FileRows(
        source_file=source_file,
        table=_contract_table(table, feed, good, starts[good]),
        malformed=malformed,
        extra_columns=extra,
        warnings=warnings,
        raw_rows=raw_rows,
    )


# --- Parquet --------------------------------------------------------------------------------------


def _as_strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Render a typed Parquet column as the strings a CSV would hold (empty string = NULL)."""
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_timestamp(column.type) and column.type.tz is not None:
        column = pc.cast(column, pa.timestamp(column.type.unit, tz="UTC"))
    strings = pc.cast(column, pa.string())
    return pc.if_else(pc.equal(strings, ""), pa.scalar(None, pa.string()), strings)


def read_parquet(path: Path, source_file: str, feed: Feed) -> FileRows:
    try:
        typed = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise BadFileError(f"{path}: unreadable Parquet: {exc}") from None
    extra, missing_optional = _check_header(path, typed.column_names, feed)
    try:
        strings = pa.table(
            {c: _as_strings(typed.column(c)) for c in feed.column_names if c in typed.column_names}
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise BadFileError(f"{path}: unreadable Parquet: a column cannot be read as text: {exc}") from None
    records = np.arange(typed.num_rows, dtype=np.int64)
    table = _contract_table(strings, feed, records, records + 1)

    def raw_rows(rows: Sequence[int]) -> list[str]:
        values = table.select(feed.column_names).take(pa.array(rows, pa.int64())).to_pylist()
        out = []
        for row in values:
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="").writerow(["" if v is None else v for v in row.values()])
            out.append(buffer.getvalue())
        return out

    warnings = _absent_optional_warning(source_file, missing_optional)
    if typed.num_rows == 0:
        warnings.append(f"{source_file}: 0 rows")
    return FileRows(source_file, table, extra_columns=extra, warnings=warnings, raw_rows=raw_rows)
