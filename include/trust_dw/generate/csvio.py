"""Vectorised formatting of landing values and the CSV writer (UTF-8, header, comma, RFC 4180).

Values are formatted to Arrow string arrays without per-row Python: timestamps as
``YYYY-MM-DDTHH:MM:SS+08:00`` (Asia/Shanghai), dates ``YYYY-MM-DD``, decimals with 2 places, booleans
``true``/``false``. A field is quoted only when it has to be (it holds a comma, a quote, CR or LF).
NULL is written as the empty field.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

DAY = 86_400
TZ_OFFSET = 8 * 3600  # Asia/Shanghai has no DST: a fixed +08:00
NONE = np.iinfo(np.int64).max  # "no timestamp": compares after every real instant
_EPOCH = np.datetime64("1970-01-01", "D")
_NEEDS_QUOTES = r'[,"\r\n]'
CHUNK_ROWS = 250_000


def day_start(day: int) -> int:
    """UTC epoch seconds of ``day`` (days since 1970-01-01) at 00:00 +08:00."""
    return day * DAY - TZ_OFFSET


def day_str(day: int) -> str:
    return str(_EPOCH + np.timedelta64(int(day), "D"))


def _validity(valid: np.ndarray | None) -> tuple[pa.Buffer | None, int]:
    if valid is None or bool(valid.all()):
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little")), int((~valid).sum())


def _fixed_width(rows: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    """An Arrow string array from an (n, width) uint8 matrix of ASCII bytes."""
    n, width = rows.shape
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
    bitmap, nulls = _validity(valid)
    return pa.Array.from_buffers(
        pa.string(), n, [bitmap, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(rows))], nulls
    )


@lru_cache(maxsize=1)
def _clock_table() -> np.ndarray:
    """(86400, 14) bytes: 'HH:MM:SS+08:00' for every second of the day."""
    s = np.arange(DAY)
    text = np.char.add(
        np.char.add(np.char.zfill((s // 3600).astype(str), 2), ":"),
        np.char.add(np.char.zfill((s // 60 % 60).astype(str), 2), ":"),
    )
    text = np.char.add(np.char.add(text, np.char.zfill((s % 60).astype(str), 2)), "+08:00")
    return text.astype("S14").view(np.uint8).reshape(DAY, 14)


def _date_rows(days: np.ndarray) -> np.ndarray:
    """(n, 10) bytes 'YYYY-MM-DD' for day numbers (each distinct day formatted once)."""
    if len(days) == 0:
        return np.empty((0, 10), dtype=np.uint8)
    lo, hi = int(days.min()), int(days.max())
    span = np.arange(lo, hi + 1)
    text = (_EPOCH + span.astype("timedelta64[D]")).astype(str).astype("S10")
    return text.view(np.uint8).reshape(len(span), 10)[days - lo]


def timestamps(ts: np.ndarray) -> pa.Array:
    """Epoch seconds (``NONE`` = NULL) → ISO 8601 with the +08:00 offset."""
    valid = ts != NONE
    local = np.where(valid, ts, 0) + TZ_OFFSET
    out = np.empty((len(ts), 25), dtype=np.uint8)
    out[:, :10] = _date_rows(local // DAY)
    out[:, 10] = ord("T")
    out[:, 11:] = _clock_table()[local % DAY]
    return _fixed_width(out, valid)


def dates(days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Day numbers → 'YYYY-MM-DD' (``valid`` False = NULL)."""
    safe = days if valid is None else np.where(valid, days, 0)
    return _fixed_width(_date_rows(safe), valid)


def ids(prefix: str, numbers: np.ndarray, width: int, valid: np.ndarray | None = None) -> pa.Array:
    """``prefix`` + zero-padded ``numbers`` (e.g. S000123)."""
    p = np.frombuffer(prefix.encode(), dtype=np.uint8)
    nums = (np.where(valid, numbers, 0) if valid is not None else numbers).astype(np.int64)
    out = np.empty((len(nums), len(p) + width), dtype=np.uint8)
    out[:, : len(p)] = p
    for pos in range(len(p) + width - 1, len(p) - 1, -1):
        nums, digit = np.divmod(nums, 10)
        out[:, pos] = digit
    out[:, len(p) :] += 48
    return _fixed_width(out, valid)


def decimals(cents: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Integer hundredths → DECIMAL(18,2) (written with exactly 2 places: '1234.50')."""
    c = np.asarray(cents, dtype=np.int64)
    words = np.empty((len(c), 2), dtype=np.int64)
    words[:, 0] = c
    words[:, 1] = c >> 63  # sign extension to a 128-bit little-endian integer
    bitmap, nulls = _validity(valid)
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(c), [bitmap, pa.py_buffer(words)], nulls)


def _masked(values: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    """A numeric Arrow array with NULL where ``valid`` is False (without pyarrow's pandas-backed mask)."""
    values = np.ascontiguousarray(values)
    bitmap, nulls = _validity(valid)
    if values.dtype == np.bool_:
        data = pa.py_buffer(np.packbits(values, bitorder="little"))
        return pa.Array.from_buffers(pa.bool_(), len(values), [bitmap, data], nulls)
    return pa.Array.from_buffers(
        pa.from_numpy_dtype(values.dtype), len(values), [bitmap, pa.py_buffer(values)], nulls
    )


def integers(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    return _masked(np.asarray(values, dtype=np.int64), valid)


def booleans(values: np.ndarray) -> pa.Array:
    """Written as true/false."""
    return flags(values)


def strings(values: Sequence[str | None]) -> pa.Array:
    """A list of Python strings (None = NULL) as an Arrow string array.

    Built from buffers: ``pa.array`` would import pandas (seconds per process here).
    """
    encoded = [b"" if v is None else v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum([len(e) for e in encoded])
    valid = np.array([v is not None for v in values], dtype=bool)
    bitmap, nulls = _validity(valid)
    data = pa.py_buffer(b"".join(encoded))
    return pa.Array.from_buffers(pa.string(), len(encoded), [bitmap, pa.py_buffer(offsets), data], nulls)


@lru_cache(maxsize=256)
def lit(text: str) -> pa.Scalar:
    """A string scalar for compute calls (a bare Python str would make pyarrow import pandas)."""
    return strings([text])[0]


def labels(codes: np.ndarray, names: Sequence[str]) -> pa.Array:
    """Small-int codes (-1 = NULL) → their names."""
    valid = codes >= 0
    return pc.take(strings(list(names)), _masked(np.where(valid, codes, 0).astype(np.int32), valid))


def flags(values: np.ndarray) -> pa.Array:
    """A numpy boolean array as an Arrow boolean array (for compute masks)."""
    return _masked(values.astype(np.bool_), None)


def names(
    labels_: Sequence[str], codes: np.ndarray, kind: str, numbers: np.ndarray, quirky: np.ndarray
) -> pa.Array:
    """Display names '<label><kind><number>'; the ``quirky`` ones carry quotes and commas like real
    upstream free text (exercising RFC 4180 quoting)."""
    number = pc.cast(integers(numbers), pa.string())
    base = pc.binary_join_element_wise(labels(codes, labels_), lit(kind), number, lit(""))
    odd = pc.binary_join_element_wise(lit('"'), base, lit('", 旗舰, 官方'), lit(""))
    return pc.if_else(flags(quirky), odd, base)


# --- writing -------------------------------------------------------------------------------------


def quote_field(value: str | None) -> str:
    """RFC 4180: quote only when needed, doubling embedded quotes; None → empty (NULL)."""
    if value is None:
        return ""
    if any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def format_row(fields: Iterable[str | None]) -> str:
    return ",".join(quote_field(f) for f in fields) + "\n"


def as_text(table: pa.Table) -> pa.Table:
    """Every column as its landing text (decimals '12.50', booleans 'true'/'false', integers)."""
    return pa.table([pc.cast(c, pa.string()) for c in table.columns], names=table.column_names)


def _quoted(col: pa.Array) -> pa.Array:
    col = pc.fill_null(col, lit(""))
    needs = pc.match_substring_regex(col, _NEEDS_QUOTES)
    if not pc.any(needs).as_py():
        return col
    doubled = pc.binary_join_element_wise(lit('"'), pc.replace_substring(col, '"', '""'), lit('"'), lit(""))
    return pc.if_else(needs, doubled, col)


def lines(table: pa.Table) -> pa.Array:
    """One CSV line (with its newline) per row, each field quoted only if it needs it."""
    cols = [
        _quoted(c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c) for c in as_text(table).columns
    ]
    joined = pc.binary_join_element_wise(*cols, lit(",")) if len(cols) > 1 else cols[0]
    return pc.binary_join_element_wise(joined, lit("\n"), lit(""))


def _lines_bytes(arr: pa.Array) -> memoryview:
    if len(arr) == 0:
        return memoryview(b"")
    arr = pa.concat_arrays([arr]) if arr.offset else arr
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=len(arr) + 1)
    return memoryview(arr.buffers()[2])[offsets[0] : offsets[-1]]


_UNQUOTED = pacsv.WriteOptions(include_header=False, quoting_style="none")


def csv_bytes(table: pa.Table) -> bytes | memoryview:
    """The rows of ``table`` as CSV text. Most tables hold nothing that needs quoting and go through
    Arrow's C++ writer; one with free text (a comma or quote in a name) gets RFC 4180 quoting."""
    sink = pa.BufferOutputStream()
    try:
        pacsv.write_csv(table, sink, _UNQUOTED)
    except pa.ArrowInvalid:
        return _lines_bytes(lines(table))
    return sink.getvalue()


class CsvPart:
    """Writes one landing file: header, vectorised chunks of rows, then any extra (fault) rows.

    The file is written under a temporary name and renamed into place on ``close``; it counts
    lines so callers can name the line of a row (header = line 1, first data row = line 2).
    """

    def __init__(self, path: Path, header: Sequence[str]):
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.tmp, "wb")  # noqa: SIM115 - closed in close()
        self._fh.write(format_row(header).encode())
        self.header = list(header)
        self.rows = 0

    @property
    def next_line(self) -> int:
        return self.rows + 2

    def write_table(self, table: pa.Table) -> None:
        for start in range(0, table.num_rows, CHUNK_ROWS):
            self._fh.write(csv_bytes(table.slice(start, CHUNK_ROWS)))
        self.rows += table.num_rows

    def write_raw_row(self, fields: Sequence[str | None]) -> int:
        """Write one row as given (its field count is not checked: faults use that); returns its line."""
        line = self.next_line
        self._fh.write(format_row(fields).encode())
        self.rows += 1
        return line

    def close(self) -> None:
        self._fh.close()
        os.replace(self.tmp, self.path)
