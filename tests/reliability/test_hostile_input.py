"""Hostile input to the ingest: property-based (hypothesis) files for every feed.

Each example is one landing file for one feed — random rows (values valid for the column, or junk of every
kind: wrong types, absurd dates and offsets, out-of-range numbers, unknown enum values, quotes, commas and
line breaks inside values, empty strings), a header that may lose, repeat or gain columns, and random byte
corruption on top (flipped, inserted or deleted bytes, NUL, invalid UTF-8, a truncated tail), as CSV or as
Parquet. The real ``ingest_feed`` loads it into a DuckDB database. Whatever the file:

- ingest never raises anything but an ``IngestError`` (a file-level fault), whose message names the file;
- after a load, every row in ``raw.<feed>`` for the ds satisfies the feed's contract (required values
  present, enums, ranges, no timestamp after ds_end where checked, no repeated key in snapshot/daily feeds);
- the ledger reconciles: rows_read = rows_loaded + rows_quarantined, with exactly that many rows in
  ``raw.<feed>`` and ``ingest.quarantine``; a CSV's rows_read is the number of its records, counted here by
  Python's ``csv`` module, independently of the pyarrow reader the ingest uses;
- a file-level fault changes nothing of the ds's raw partition.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from datetime import date
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_support import SCALE, record
from trust_dw.config import Settings
from trust_dw.feeds import (
    BIGINT,
    BOOLEAN,
    DATE,
    DECIMAL,
    DECIMAL_RATE,
    FEED_NAMES,
    FEEDS,
    INTEGER,
    TIMESTAMPTZ,
)
from trust_dw.ingest import IngestError, ingest_feed
from trust_dw.ingest.validation import DEDUPLICATED_KINDS, FUTURE_CHECKED, ds_end, quote_ident

DS = date(2026, 1, 3)
# Examples per feed (one ingest each, ~0.3 s on an idle core): make test keeps it lean, test-full goes wide.
EXAMPLES = int(os.environ.get("TRUST_DW_HYPOTHESIS_EXAMPLES", "15" if SCALE == "tiny" else "150"))

# --- values ---------------------------------------------------------------------------------------

JUNK = st.sampled_from(
    [
        "", " ", "NULL", "null", "NaN", "inf", "-inf", "1e309", "0x1F", "１２３", "1,5", "1.5k", "--1", "+",
        "-", '"', '""', "'", ",", "\n", "\r\n", "a\nb", 'x"y', "\\", "\x00", "\u2028", "😀",
        "DROP TABLE raw.orders;", "9" * 40, "-" + "9" * 40, "0." + "0" * 30 + "1", "true", "TRUE", "yes",
        "maybe", "2026-02-30", "2026-13-01", "0000-01-01", "99999-01-01", "2026-1-5", "20260103",
        "2026-01-03T24:00:00+08:00", "2026-01-03T12:00:60+08:00", "2026-01-03T12:00:00+25:00",
        "2026-01-03T12:00:00", "2026-01-03 12:00:00+0800", "2026-01-04T00:00:00+08:00",
        "2026-01-03T23:59:59+08:00", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "-0001-01-01T00:00:00Z",
    ]
)  # fmt: skip
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


def valid_value(column) -> st.SearchStrategy[str]:
    """A value that should load (or hit only a range/enum/future check on purpose)."""
    if column.enum:
        items = st.sampled_from(column.enum)
        return st.lists(items, min_size=1, max_size=3).map(";".join) if column.multi_enum else items
    if column.type in (INTEGER, BIGINT):
        return st.integers(-5, 10**6).map(str)
    if column.type in (DECIMAL, DECIMAL_RATE):
        return st.decimals(Decimal("-10"), Decimal("100000"), places=2).map(str)
    if column.type == BOOLEAN:
        return st.sampled_from(["true", "false"])
    if column.type == DATE:
        return st.dates(date(2025, 1, 1), date(2026, 1, 5)).map(date.isoformat)
    if column.type == TIMESTAMPTZ:
        return st.builds(
            lambda d, h, m, off: f"{d.isoformat()}T{h:02d}:{m:02d}:00{off}",
            st.dates(date(2025, 12, 1), date(2026, 1, 4)),
            st.integers(0, 23),
            st.integers(0, 59),
            st.sampled_from(["+08:00", "Z", "+0800", "-05:00"]),
        )
    return TEXT.filter(lambda s: s.strip() != "")


def value(column) -> st.SearchStrategy[str]:
    return st.one_of(valid_value(column), valid_value(column), JUNK, TEXT)


# --- files ----------------------------------------------------------------------------------------


@st.composite
def header(draw, feed) -> list[str]:
    names = list(feed.column_names)
    change = draw(st.sampled_from(["as_is", "as_is", "as_is", "shuffle", "drop", "extra", "repeat"]))
    if change == "shuffle":
        names = draw(st.permutations(names))
    elif change == "drop":
        names.pop(draw(st.integers(0, len(names) - 1)))
    elif change == "extra":
        names.insert(
            draw(st.integers(0, len(names))), draw(st.sampled_from(["coupon_code", "x", "", "旧字段"]))
        )
    elif change == "repeat":
        names.append(draw(st.sampled_from(names)))
    return list(names)


@st.composite
def csv_bytes(draw, feed) -> bytes:
    names = draw(header(feed))
    columns = {c.name: c for c in feed.columns}
    rows = draw(
        st.lists(
            st.tuples(*[value(columns[n]) if n in columns else TEXT for n in names]).map(list), max_size=12
        )
    )
    for row in rows:  # ragged rows: fewer or more fields than the header
        if draw(st.integers(0, 9)) == 0:
            del row[draw(st.integers(0, len(row) - 1)) :]
        elif draw(st.integers(0, 9)) == 0:
            row.append(draw(TEXT))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerows([names, *rows])
    data = buffer.getvalue().encode("utf-8")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return draw(corrupted(data))


@st.composite
def corrupted(draw, data: bytes) -> bytes:
    """0-3 random byte mutations."""
    data = bytearray(data)
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "blank_line"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(
                st.sampled_from([b"\x00", b"\xff", b"\xc3", b"\r", b'"', b",", b"\n", b"\xe2\x80"])
            )
        elif kind == "delete" and data:
            del data[at : at + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del data[at:]
        elif kind == "blank_line":
            data[at:at] = b"\n\n"
    return bytes(data)


@st.composite
def parquet_bytes(draw, feed) -> bytes:
    names = draw(header(feed))
    if len(set(names)) != len(names):  # Parquet cannot hold a repeated column name: drop the repeat
        names = list(dict.fromkeys(names))
    columns = {c.name: c for c in feed.columns}
    n = draw(st.integers(0, 8))
    arrays = {}
    for name in names:
        column = columns.get(name)
        typed = column is not None and column.type in (INTEGER, BIGINT) and draw(st.booleans())
        if typed:  # a real integer column (sometimes negative), not text
            arrays[name] = pa.array(draw(st.lists(st.integers(-(2**40), 2**40), min_size=n, max_size=n)))
        else:
            strategy = value(column) if column is not None else TEXT
            arrays[name] = pa.array(draw(st.lists(st.one_of(st.none(), strategy), min_size=n, max_size=n)))
    sink = io.BytesIO()
    pq.write_table(pa.table(arrays) if arrays else pa.table({"x": pa.array([], pa.string())}), sink)
    data = sink.getvalue()
    return draw(corrupted(data)) if draw(st.booleans()) else data


# --- the property ---------------------------------------------------------------------------------


def csv_records(data: bytes) -> int | None:
    """Data records of a CSV by Python's csv module (non-blank ones after the header); None if not UTF-8."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    records = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    return max(len(records) - 1, 0)


def contract_violations(con: duckdb.DuckDBPyConnection, feed) -> list[tuple]:
    """Rows of raw.<feed> for the ds that break the feed's contract (must be none)."""
    checks = []
    for c in feed.columns:
        name = quote_ident(c.name)
        if c.required:
            checks.append(f"{name} is null")
        if c.enum and c.multi_enum:
            items = ", ".join(f"'{v}'" for v in c.enum)
            checks.append(f"len(list_filter(string_split({name}, ';'), lambda x: x not in ({items}))) > 0")
        elif c.enum:
            checks.append(f"{name} not in ({', '.join(repr(v) for v in c.enum)})")
        if c.min is not None:
            checks.append(f"{name} < {c.min}")
        if c.max is not None:
            checks.append(f"{name} > {c.max}")
    for column in FUTURE_CHECKED.get(feed.name, ()):
        checks.append(f"{quote_ident(column)} > cast('{ds_end(DS).isoformat()}' as timestamptz)")
    where = " or ".join(f"coalesce({c}, false)" for c in checks) or "false"
    bad = con.execute(f"select * from {feed.raw_table} where _ds = ? and ({where}) limit 5", [DS]).fetchall()
    if feed.kind in DEDUPLICATED_KINDS:
        key = ", ".join(quote_ident(k) for k in feed.key)
        bad += con.execute(
            f"select {key}, count(*) from {feed.raw_table} where _ds = ? group by {key} having count(*) > 1",
            [DS],
        ).fetchall()
    return bad


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("hostile") / "dw"
    s = Settings(home=home, threads=1)
    s.ensure_dirs()
    con = duckdb.connect(":memory:", config={"threads": 1})
    yield s, con
    con.close()


@pytest.mark.parametrize("feed_name", FEED_NAMES)
def test_ingest_never_crashes_never_loads_a_bad_row_and_always_reconciles(workspace, feed_name: str) -> None:
    s, con = workspace
    feed = FEEDS[feed_name]
    folder = s.feed_ds_dir(feed.name, DS.isoformat())
    outcomes = {"loaded": 0, "file_fault": 0}

    @given(fmt=st.sampled_from(["csv", "csv", "csv", "parquet"]), data=st.data())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(fmt: str, data) -> None:
        content = data.draw(csv_bytes(feed) if fmt == "csv" else parquet_bytes(feed), label="file")
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        path = folder / f"part-0.{fmt}"
        path.write_bytes(content)
        (folder / "_SUCCESS").touch()
        before = raw_rows(con, feed)
        try:
            result = ingest_feed(s, feed, DS, con=con)
        except IngestError as exc:
            assert str(path) in str(exc) or path.name in str(exc), str(exc)
            assert raw_rows(con, feed) == before, "a file-level fault changed the raw partition"
            outcomes["file_fault"] += 1
            return
        assert result.status in ("loaded", "unchanged")
        in_raw, in_quarantine = con.execute(
            f"select (select count(*) from {feed.raw_table} where _ds = $ds), "
            "(select count(*) from ingest.quarantine where feed = $feed and ds = $ds)",
            {"ds": DS, "feed": feed.name},
        ).fetchone()
        assert result.rows_read == result.rows_loaded + result.rows_quarantined
        assert (in_raw, in_quarantine) == (result.rows_loaded, result.rows_quarantined)
        if fmt == "csv":
            expected = csv_records(content)
            assert expected is not None, "a file that is not UTF-8 was loaded"
            assert result.rows_read == expected, (result.rows_read, expected, content[:300])
        assert contract_violations(con, feed) == []
        outcomes["loaded"] += 1

    check()
    record("hostile input: hypothesis examples (ingest)", sum(outcomes.values()))
    record("hostile input: examples loaded with a reconciled ledger", outcomes["loaded"])
    record("hostile input: examples refused as file-level faults", outcomes["file_fault"])
    assert outcomes["loaded"] > 0 and outcomes["file_fault"] > 0, outcomes


def raw_rows(con: duckdb.DuckDBPyConnection, feed) -> int:
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'raw' and table_name = ?",
        [feed.name],
    ).fetchone()[0]
    if not exists:
        return 0
    return con.execute(f"select count(*) from {feed.raw_table} where _ds = ?", [DS]).fetchone()[0]
