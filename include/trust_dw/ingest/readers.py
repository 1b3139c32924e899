"""Read one landing file as a stream of all-string Arrow record batches that keep each row's line number.

A file is never held in memory whole (a large day's orders file is several GB): ``read_file`` makes one
chunked pass over the bytes for every whole-file check (UTF-8, header, line ends, quotes), then
``FileRows.batches()`` parses it as a stream (``pyarrow.csv.open_csv``, record batches of ~8 MB), which
the loader hands to DuckDB as a ``RecordBatchReader`` scanned once. Typing and checks happen there
(``validation.py``). Rows with the wrong number of fields are caught by the ``invalid_row_handler`` and
kept, with their line number and raw text, as ``malformed_row``.

Line numbers are physical lines of the file (header = line 1). pyarrow only reports record ordinals,
so they are mapped to lines: on the usual file (one record per line, no blank lines, no bare CR) record
``n`` is line ``n``, which the stream checks at its end by comparing the records parsed with the
newlines counted. A file that fails that check, or that the pre-pass already knows is unusual (blank
lines, bare CR line ends), is read the exact slow way instead: whole, with a second pass of Python's
``csv`` module finding where each record starts (per-row Python, in memory; such files are rare and
small). The loader then runs its query again (``UnusualLayout``). Likewise a threaded parse does not
number malformed rows, so a file with some is parsed again serially (``NeedsSerialParse``).

File-level faults raise ``BadFileError`` naming the file: not UTF-8, an unterminated quoted field,
duplicate or missing required columns in the header, unreadable Parquet, anything pyarrow cannot parse.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
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
# Lineage columns carried by every string batch read from a file.
RECORD = "_record"  # record ordinal in the file (CSV: header = 1; Parquet: row index)
LINE = "_source_line"

CHUNK_BYTES = 16 << 20  # the pre-pass and line look-ups read the file in chunks of this size
BLOCK_BYTES = 8 << 20  # pyarrow's CSV block: one record batch per block
PARQUET_BATCH_ROWS = 65_536

_QUOTED_FIELD = re.compile(r'"[^"]*(?:""[^"]*)*"')


class ReadAgain(Exception):
    """The stream of a file cannot be finished as it started; the loader reads the feed again."""

    def __init__(self, file: FileRows, why: str) -> None:
        super().__init__(f"{file.source_file}: {why}")
        self.file = file


class NeedsSerialParse(ReadAgain):
    """A threaded parse met a malformed row (it does not number them): parse this file serially."""


class UnusualLayout(ReadAgain):
    """Records are not one per line (quoted line breaks): read this file the exact, in-memory way."""


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
    """One landing file, read as strings by ``batches()``.

    Each batch has the feed's columns in contract order (strings, NULL for empty values and for optional
    columns absent from the file), then ``_record`` and ``_source_line``. ``malformed`` and
    ``rows_read`` are complete once ``batches()`` is exhausted.
    """

    source_file: str
    feed: Feed
    extra_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # known before the rows are read
    malformed: list[MalformedRow] = field(default_factory=list)
    rows_read: int = 0
    empty_warning: str | None = None  # set by batches() when the file holds no row

    def all_warnings(self) -> list[str]:
        return [*self.warnings, *([self.empty_warning] if self.empty_warning else [])]

    def batches(self) -> Iterator[pa.RecordBatch]:
        return iter(())

    def raw_rows(self, records: Sequence[int]) -> list[str]:
        """The original text of the given records (to quarantine them)."""
        return ["" for _ in records]

    def _contract_batch(self, batch: pa.RecordBatch | pa.Table, records: np.ndarray, lines: np.ndarray):
        """The feed's columns in contract order (absent optional ones as NULL strings) + lineage."""
        n = batch.num_rows
        names = batch.schema.names
        arrays = [
            batch.column(names.index(c)) if c in names else pa.nulls(n, pa.string())
            for c in self.feed.column_names
        ]
        arrays += [pa.array(records, pa.int64()), pa.array(lines, pa.int64())]
        return pa.record_batch(
            [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in arrays],
            names=[*self.feed.column_names, RECORD, LINE],
        )


def read_file(path: Path, source_file: str, feed: Feed) -> FileRows:
    """Check ``path`` as a whole (file-level faults raise ``BadFileError``) and return its row stream."""
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


# --- CSV: the pre-pass ----------------------------------------------------------------------------


@dataclass
class _Layout:
    """What one chunked pass over a CSV file found (offsets are of the body, after a BOM)."""

    bom: int  # bytes of a UTF-8 BOM (0 or 3)
    size: int  # body bytes
    newlines: int
    has_quote: bool
    bare_cr: bool
    blank_line: bool  # an empty line between records (pyarrow skips it, so record n != line n)
    ends_with_newline: bool
    last_line_start: int  # where the last line starts (the last record on the usual file)
    head: bytes  # the first MB of the body, for the header


def _scan(path: Path) -> _Layout:
    """One pass in chunks: UTF-8 validity, line ends, quotes, blank lines (bounded memory)."""
    with path.open("rb") as fh:
        first = fh.read(CHUNK_BYTES)
        bom = len(codecs.BOM_UTF8) if first.startswith(codecs.BOM_UTF8) else 0
        chunk, base = first[bom:], 0  # base: body offset of chunk[0]
        carry = b""  # an incomplete UTF-8 sequence at the end of the previous chunk
        newlines = crs = crlfs = 0
        has_quote = blank = False
        last_newline = -1  # body offset of the last newline seen
        previous = b"\n"  # the byte before chunk[0]; a file starting with a line end has a blank line
        before_previous = b""
        head = chunk[: 1 << 20]
        while chunk:
            buffer = carry + chunk if carry else chunk
            try:
                _, consumed = codecs.utf_8_decode(buffer, "strict", False)
            except UnicodeDecodeError as exc:
                at = bom + base - len(carry) + exc.start
                raise BadFileError(f"{path}: not valid UTF-8 at byte {at} ({exc.reason})") from None
            carry = buffer[consumed:]
            del buffer
            newlines += chunk.count(b"\n")
            crs += chunk.count(b"\r")
            crlfs += chunk.count(b"\r\n") + (previous == b"\r" and chunk[:1] == b"\n")
            has_quote = has_quote or b'"' in chunk
            joined = before_previous + previous + chunk[:2]  # line ends across the chunk boundary
            blank = (
                blank or b"\n\n" in chunk or b"\n\r\n" in chunk or b"\n\n" in joined or b"\n\r\n" in joined
            )
            position = chunk.rfind(b"\n")
            if position >= 0:
                last_newline = base + position
            tail = chunk[-2:] if len(chunk) >= 2 else (previous + chunk)[-2:]
            before_previous, previous = tail[:-1], tail[-1:]
            base += len(chunk)
            chunk = fh.read(CHUNK_BYTES)
        if carry:
            at = bom + base - len(carry)
            raise BadFileError(f"{path}: not valid UTF-8 at byte {at} (unexpected end of data)")
    size = base
    ends_with_newline = size > 0 and previous == b"\n"
    # the last line starts after the last newline that is not the file's final byte
    if last_newline == size - 1 and size:
        with path.open("rb") as fh:
            last_newline = _previous_newline(fh, bom, last_newline)
    return _Layout(
        bom=bom,
        size=size,
        newlines=newlines,
        has_quote=has_quote,
        bare_cr=crs != crlfs,
        blank_line=blank,
        ends_with_newline=ends_with_newline,
        last_line_start=last_newline + 1,
        head=head,
    )


def _previous_newline(fh, bom: int, before: int) -> int:
    """Body offset of the last newline strictly before body offset ``before`` (-1 if none)."""
    end = before
    while end > 0:
        start = max(0, end - (1 << 20))
        fh.seek(bom + start)
        block = fh.read(end - start)
        position = block.rfind(b"\n")
        if position >= 0:
            return start + position
        end = start
    return -1


def _header(head: bytes) -> list[str] | None:
    """The first non-blank record (read from the start of the file only)."""
    text = head.decode("utf-8", errors="replace")
    return next((row for row in csv.reader(io.StringIO(text, newline="")) if row), None)


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


def _line_texts(path: Path, bom: int, lines: Sequence[int]) -> dict[int, str]:
    """The text of the given physical lines (1-based), found by counting newlines chunk by chunk."""
    wanted = np.unique(np.asarray(lines, np.int64))
    if wanted.size == 0:
        return {}
    # line L spans (newline L-1) + 1 … newline L; newline 0 is "before the file", newline past the end = EOF
    ordinals = np.unique(np.concatenate([wanted - 1, wanted]))
    position: dict[int, int] = {0: -1}
    with path.open("rb") as fh:
        fh.seek(bom)
        seen, base = 0, 0
        while True:
            chunk = fh.read(CHUNK_BYTES)
            if not chunk:
                break
            offsets = np.flatnonzero(np.frombuffer(chunk, np.uint8) == 10)
            lo, hi = np.searchsorted(ordinals, [seen + 1, seen + len(offsets) + 1])
            for k in ordinals[lo:hi]:
                position[int(k)] = base + int(offsets[int(k) - seen - 1])
            seen += len(offsets)
            base += len(chunk)
            if seen >= ordinals[-1]:
                break
        size = fh.seek(0, io.SEEK_END) - bom
        texts = {}
        for line in wanted.tolist():
            start = position.get(line - 1)
            if start is None:  # past the last line
                texts[line] = ""
                continue
            end = position.get(line, size)
            fh.seek(bom + start + 1)
            texts[line] = fh.read(end - start - 1).decode("utf-8").rstrip("\r\n")
    return texts


# --- CSV: the stream ------------------------------------------------------------------------------


class _InvalidRows(list):
    """pyarrow's ``invalid_row_handler``: collects (record number, text, expected, actual), skips the row."""

    def __call__(self, row: pacsv.InvalidRow) -> str:
        self.append((row.number, row.text, row.expected_columns, row.actual_columns))
        return "skip"


def _good_records(invalid: _InvalidRows, first: int, n: int) -> np.ndarray:
    """Record numbers of the good rows ``first … first + n - 1`` (0-based among the good rows).

    Good row g is record g + 2 + (malformed records before it); with the malformed records
    v_1 < v_2 < … (the header is record 1) that count is #{i : v_i - 1 - i <= g}.
    """
    numbers = np.asarray([number for number, *_ in invalid], np.int64)
    thresholds = numbers - 1 - np.arange(1, numbers.size + 1)
    index = np.arange(first, first + n, dtype=np.int64)
    return index + 2 + np.searchsorted(thresholds, index, side="right")


def _csv_options(
    header: list[str], feed: Feed, threaded: bool, has_quote: bool, invalid: _InvalidRows
) -> dict:
    """pyarrow's read, parse and convert options: every contract column of the header as a string."""
    return {
        "read_options": pacsv.ReadOptions(use_threads=threaded, block_size=BLOCK_BYTES),
        "parse_options": pacsv.ParseOptions(
            # quoted values may hold line breaks (RFC 4180); without any quote the faster chunker is exact
            newlines_in_values=has_quote,
            invalid_row_handler=invalid,
        ),
        "convert_options": pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            include_columns=[c for c in feed.column_names if c in header],
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    }


@dataclass
class _CsvStream(FileRows):
    """A CSV file on the usual layout (record n = line n), parsed as a stream."""

    path: Path = Path()
    layout: _Layout | None = None
    header: list[str] = field(default_factory=list)
    threaded: bool = True

    def _parse(self, invalid: _InvalidRows) -> Iterator[pa.RecordBatch]:
        """pyarrow's record batches of the file, one per block; ``BadFileError`` on what it cannot parse."""
        options = _csv_options(self.header, self.feed, self.threaded, self.layout.has_quote, invalid)
        with self.path.open("rb") as fh:
            fh.seek(self.layout.bom)
            try:
                reader = pacsv.open_csv(fh, **options)
                try:
                    yield from reader
                finally:  # before the file: a threaded reader may still be reading ahead
                    reader.close()
            except pa.ArrowInvalid as exc:
                raise BadFileError(f"{self.path}: not parseable as CSV: {exc}") from None

    def batches(self) -> Iterator[pa.RecordBatch]:
        invalid = _InvalidRows()
        self.malformed, self.rows_read, self.empty_warning = [], 0, None
        good = 0  # good rows yielded so far
        for batch in self._parse(invalid):
            if invalid and invalid[-1][0] is None:
                raise NeedsSerialParse(self, "a malformed row, not numbered by the threaded parse")
            records = _good_records(invalid, good, batch.num_rows)
            good += batch.num_rows
            yield self._contract_batch(batch, records, records)
        if invalid and invalid[-1][0] is None:
            raise NeedsSerialParse(self, "a malformed row, not numbered by the threaded parse")
        n_records = 1 + good + len(invalid)  # the header is record 1
        layout = self.layout
        expected_newlines = n_records if layout.ends_with_newline else n_records - 1
        if layout.newlines != expected_newlines:
            raise UnusualLayout(self, f"{n_records} records on {layout.newlines} line ends")
        if layout.has_quote:
            with self.path.open("rb") as fh:  # the last record is the last line on this layout
                fh.seek(layout.bom + layout.last_line_start)
                last_record = fh.read().decode("utf-8").rstrip("\r\n")
            if _unterminated_quote(last_record):
                raise BadFileError(
                    f"{self.path}: not parseable as CSV: unterminated quoted field in the record starting "
                    f"at line {n_records}"
                )
        self.malformed = [
            MalformedRow(
                line=number, raw_row=raw.rstrip("\r\n"), detail=f"expected {exp} fields, found {act}"
            )
            for number, raw, exp, act in invalid
        ]
        self.rows_read = good + len(invalid)
        if self.rows_read == 0:
            self.empty_warning = f"{self.source_file}: header only, 0 rows"

    def raw_rows(self, records: Sequence[int]) -> list[str]:
        texts = _line_texts(self.path, self.layout.bom, records)
        return [texts[int(r)] for r in records]


@dataclass
class _InMemoryRows(FileRows):
    """Rows already parsed into one table (an unusual CSV layout, or an empty file)."""

    table: pa.Table | None = None
    records: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    text_of: Callable[[int], str] = lambda record: ""  # record -> raw text

    def __post_init__(self) -> None:
        self.rows_read = (self.table.num_rows if self.table is not None else 0) + len(self.malformed)

    def batches(self) -> Iterator[pa.RecordBatch]:
        if self.table is None or self.table.num_rows == 0:
            return
        step = PARQUET_BATCH_ROWS
        for offset in range(0, self.table.num_rows, step):
            part = self.table.slice(offset, step)
            yield self._contract_batch(
                part, self.records[offset : offset + step], self.lines[offset : offset + step]
            )

    def raw_rows(self, records: Sequence[int]) -> list[str]:
        return [self.text_of(int(r)) for r in records]


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


def read_csv(path: Path, source_file: str, feed: Feed) -> FileRows:
    layout = _scan(path)
    header = _header(layout.head)
    if header is None:
        size = "0 bytes" if not layout.size else "only blank lines"
        warning = f"{source_file}: empty file ({size}), no header: 0 rows"
        return _InMemoryRows(source_file, feed, warnings=[warning])
    extra, missing_optional = _check_header(path, header, feed)
    warnings = _absent_optional_warning(source_file, missing_optional)
    stream = _CsvStream(source_file, feed, extra, warnings, path=path, layout=layout, header=header)
    if layout.blank_line or layout.bare_cr:
        return read_csv_in_memory(stream)
    return stream


def read_csv_in_memory(stream: _CsvStream) -> _InMemoryRows:
    """The exact slow path: the whole file parsed at once, records delimited by Python's csv module."""
    path, feed, header = stream.path, stream.feed, stream.header
    body = path.read_bytes()[stream.layout.bom :]
    invalid = _InvalidRows()
    try:
        table = pacsv.read_csv(
            pa.BufferReader(body), **_csv_options(header, feed, False, b'"' in body, invalid)
        )
        start_list, end_list, lines = _records_by_csv_module(body.decode("utf-8"))
    except (pa.ArrowInvalid, pa.ArrowTypeError, csv.Error) as exc:
        raise BadFileError(f"{path}: not parseable as CSV: {exc}") from None
    n_records = 1 + table.num_rows + len(invalid)
    if len(start_list) - 1 != n_records:
        raise BadFileError(
            f"{path}: not parseable as CSV: records could not be delimited consistently "
            f"({n_records} by pyarrow, {len(start_list) - 1} by line scan)"
        )
    starts, ends = np.asarray(start_list, np.int64), np.asarray(end_list, np.int64)

    def line_text(record: int) -> str:
        return "".join(lines[int(starts[record]) - 1 : int(ends[record])]).rstrip("\r\n")

    if b'"' in body and _unterminated_quote(line_text(n_records)):
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
    return _InMemoryRows(
        stream.source_file,
        feed,
        stream.extra_columns,
        list(stream.warnings),
        malformed,
        empty_warning=f"{stream.source_file}: header only, 0 rows" if n_records == 1 else None,
        table=table,
        records=good,
        lines=starts[good],
        text_of=line_text,
    )


# --- Parquet --------------------------------------------------------------------------------------


def _as_strings(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Render a typed Parquet column as the strings a CSV would hold (empty string = NULL)."""
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_timestamp(column.type) and column.type.tz is not None:
        column = pc.cast(column, pa.timestamp(column.type.unit, tz="UTC"))
    strings = pc.cast(column, pa.string())
    return pc.if_else(pc.equal(strings, ""), pa.scalar(None, pa.string()), strings)


@dataclass
class _ParquetStream(FileRows):
    path: Path = Path()
    columns: list[str] = field(default_factory=list)  # the contract columns the file has

    def _string_batches(self) -> Iterator[pa.RecordBatch]:
        try:
            typed_batches = pq.ParquetFile(self.path).iter_batches(
                batch_size=PARQUET_BATCH_ROWS, columns=self.columns
            )
        except (pa.ArrowException, OSError) as exc:
            raise BadFileError(f"{self.path}: unreadable Parquet: {exc}") from None
        while True:
            try:
                typed = next(typed_batches, None)
            except (pa.ArrowException, OSError) as exc:
                raise BadFileError(f"{self.path}: unreadable Parquet: {exc}") from None
            if typed is None:
                return
            try:
                strings = [_as_strings(typed.column(c)) for c in self.columns]
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise BadFileError(
                    f"{self.path}: unreadable Parquet: a column cannot be read as text: {exc}"
                ) from None
            yield pa.record_batch(strings, names=self.columns)

    def batches(self) -> Iterator[pa.RecordBatch]:
        self.rows_read, self.empty_warning = 0, None
        for strings in self._string_batches():
            records = np.arange(self.rows_read, self.rows_read + strings.num_rows, dtype=np.int64)
            self.rows_read += strings.num_rows
            yield self._contract_batch(strings, records, records + 1)
        if self.rows_read == 0:
            self.empty_warning = f"{self.source_file}: 0 rows"

    def raw_rows(self, rows: Sequence[int]) -> list[str]:
        wanted = sorted({int(r) for r in rows})
        found: dict[int, str] = {}
        offset = 0
        for strings in self._string_batches():
            lo, hi = np.searchsorted(wanted, [offset, offset + strings.num_rows])
            for row in wanted[lo:hi]:
                values = {c: strings.column(c)[row - offset].as_py() for c in self.columns}
                buffer = io.StringIO()  # every contract column, an absent one empty (as a CSV would be)
                csv.writer(buffer, lineterminator="").writerow(
                    ["" if values.get(c) is None else values[c] for c in self.feed.column_names]
                )
                found[row] = buffer.getvalue()
            offset += strings.num_rows
        return [found[int(r)] for r in rows]


def read_parquet(path: Path, source_file: str, feed: Feed) -> FileRows:
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise BadFileError(f"{path}: unreadable Parquet: {exc}") from None
    extra, missing_optional = _check_header(path, schema.names, feed)
    columns = [c for c in feed.column_names if c in schema.names]
    warnings = _absent_optional_warning(source_file, missing_optional)
    return _ParquetStream(source_file, feed, extra, warnings, path=path, columns=columns)
