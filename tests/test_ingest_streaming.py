"""The streaming reader (ingest/readers.py): a landing file is checked in chunks and parsed as a stream of
record batches, so a large file is never held whole. These tests shrink the chunk and block sizes so that
small files cross many boundaries, and assert that the rows, line numbers, raw rows and faults are exactly
those of one whole-file read. Real files, real pyarrow, real DuckDB."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from test_ingest import DS, ORDER, SHOP, csv_text, land, ledger, order, quarantine, query
from trust_dw.config import Settings
from trust_dw.feeds import FEEDS
from trust_dw.ingest import BadFileError, ingest_feed, readers
from trust_dw.ingest.readers import NeedsSerialParse, UnusualLayout, read_file

ORDERS = FEEDS["orders"]


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pre-pass chunks of 1 KiB and parse blocks of 4 KiB: a 100 KB file is ~100 chunks, ~25 batches."""
    monkeypatch.setattr(readers, "CHUNK_BYTES", 1024)
    monkeypatch.setattr(readers, "BLOCK_BYTES", 4096)


def orders_file(n: int, bad: dict[int, str], line_end: str = "\n") -> tuple[str, list[str]]:
    """An orders CSV of ``n`` rows (row i on line i + 2), the lines of ``bad`` (line: text) replaced."""
    text = csv_text([order(order_id=f"o{i:05d}", buyer_id=f"b{i}") for i in range(n)])
    lines = text.splitlines()
    for line, replacement in bad.items():
        lines[line - 1] = replacement
    return line_end.join(lines) + line_end, lines


FAULTS = {
    5: "o-short,2026-01-01T10:00:00+08:00,s1",  # too few fields: malformed_row
    400: ",".join(order(order_id="o-enum", channel="tv").values()),  # invalid_enum, in a later batch
    777: "o-long," + ",".join(ORDER.values()),  # too many fields, near the end
}


def loaded_lines(settings: Settings) -> list[tuple[str, int]]:
    return query(settings, "select order_id, _source_line from raw.orders order by _source_line")


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_a_file_of_many_batches_keeps_every_line_and_raw_row(
    settings: Settings, small_blocks: None, line_end: str
) -> None:
    text, lines = orders_file(800, FAULTS, line_end)
    land(settings, "orders", {"a.csv": text})
    stream = read_file(settings.feed_ds_dir("orders", DS) / "a.csv", "a.csv", ORDERS)
    stream.threaded = False
    batches = list(stream.batches())
    assert len(batches) > 10 and max(b.num_rows for b in batches) < 100  # one block at a time
    assert sum(b.num_rows for b in batches) == 800 - 2  # the two malformed rows are not in the batches
    assert [m.line for m in stream.malformed] == [5, 777]

    result = ingest_feed(settings, "orders", DS)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (800, 797, 3)
    got = loaded_lines(settings)
    assert len(got) == 797
    # every loaded row sits on the line it was written on (row i on line i + 2)
    assert all(order_id == f"o{line - 2:05d}" for order_id, line in got)
    assert [line for _, line in got] == [n for n in range(2, 802) if n not in FAULTS]
    file = f"orders/ds={DS}/a.csv"
    assert [q[:3] for q in quarantine(settings)] == [
        (file, 5, "malformed_row"),
        (file, 400, "invalid_enum"),
        (file, 777, "malformed_row"),
    ]
    raw = query(settings, "select source_line, raw_row from ingest.quarantine order by source_line")
    assert raw == [(line, lines[line - 1]) for line in sorted(FAULTS)]


def test_a_threaded_parse_that_meets_a_malformed_row_is_redone_serially(settings: Settings) -> None:
    text, _ = orders_file(50, {7: "o-short,x"})
    land(settings, "orders", {"a.csv": text})
    stream = read_file(settings.feed_ds_dir("orders", DS) / "a.csv", "a.csv", ORDERS)
    with pytest.raises(NeedsSerialParse):  # the threaded parse does not number it
        list(stream.batches())
    result = ingest_feed(settings, "orders", DS)  # the loader reads the file again, serially
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (50, 49, 1)
    assert quarantine(settings) == [
        (f"orders/ds={DS}/a.csv", 7, "malformed_row", "expected 23 fields, found 2")
    ]


def test_quoted_line_breaks_are_found_at_the_end_and_read_again_exactly(
    settings: Settings, small_blocks: None
) -> None:
    shops = [{**SHOP, "shop_id": f"s{i}"} for i in range(60)]
    shops[30]["shop_name"] = "two\nlines"  # record 32 spans lines 32-33: record n != line n after it
    physical = csv_text(shops).splitlines()
    physical[52] = "s50,too,few"  # line 53
    text = "\n".join(physical) + "\n"
    land(settings, "shops", {"a.csv": text})
    stream = read_file(settings.feed_ds_dir("shops", DS) / "a.csv", "a.csv", FEEDS["shops"])
    stream.threaded = False
    with pytest.raises(UnusualLayout):
        list(stream.batches())
    result = ingest_feed(settings, "shops", DS)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (60, 59, 1)
    lines = dict(query(settings, "select shop_id, _source_line from raw.shops"))
    assert (lines["s29"], lines["s30"], lines["s31"], lines["s59"]) == (31, 32, 34, 62)
    assert query(settings, "select source_line, raw_row from ingest.quarantine") == [(53, "s50,too,few")]
    assert query(settings, "select shop_name from raw.shops where shop_id = 's30'") == [("two\nlines",)]


def test_utf8_is_checked_across_chunks_and_a_fault_names_its_byte(
    settings: Settings, small_blocks: None
) -> None:
    rows = [order(order_id=f"o{i}", buyer_id="买家" * 3) for i in range(40)]  # 3-byte characters everywhere
    good = csv_text(rows).encode()
    assert len(good) > 4 * 1024  # characters straddle several chunk boundaries
    land(settings, "orders", {"a.csv": good})
    assert ingest_feed(settings, "orders", DS).rows_loaded == 40

    def whole_file_fault(content: bytes) -> str:  # what decoding the whole file at once reports
        with pytest.raises(UnicodeDecodeError) as info:
            content.decode("utf-8")
        return f"not valid UTF-8 at byte {info.value.start} ({info.value.reason})"

    at = good.index("买".encode(), 3000) + 1  # break a character in the fourth chunk
    bad = good[:at] + b"\xff" + good[at + 1 :]
    assert whole_file_fault(bad) == f"not valid UTF-8 at byte {at - 1} (invalid continuation byte)"
    land(settings, "orders", {"a.csv": bad})
    with pytest.raises(BadFileError, match=re.escape(f"a.csv: {whole_file_fault(bad)}")):
        ingest_feed(settings, "orders", DS)
    assert ledger(settings)[0] == "failed"
    cut = good[: good.rindex("家".encode()) + 1]  # the upload stopped inside a character
    land(settings, "orders", {"a.csv": cut})
    with pytest.raises(BadFileError, match=re.escape(f"a.csv: {whole_file_fault(cut)}")):
        ingest_feed(settings, "orders", DS)


@pytest.mark.parametrize(
    ("body", "blank"),
    [
        (b"h\n\nx\n", True),
        (b"h\r\n\r\nx\r\n", True),
        (b"\nh\nx\n", True),
        (b"h\nx\n\n", True),
        (b"h\nx\n", False),
        (b"h\r\nx\r\n", False),
    ],
)
def test_the_pre_pass_sees_blank_lines_on_any_chunk_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: bytes, blank: bool
) -> None:
    for chunk in (1, 2, 3, 1024):  # every split of the line ends
        monkeypatch.setattr(readers, "CHUNK_BYTES", chunk)
        path = tmp_path / "f.csv"
        path.write_bytes(body)
        layout = readers._scan(path)
        assert layout.blank_line is blank, chunk
        assert layout.newlines == body.count(b"\n") and not layout.bare_cr
        assert layout.ends_with_newline


def test_parquet_is_read_in_batches_with_its_raw_rows(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.setattr(readers, "PARQUET_BATCH_ROWS", 7)
    rows = [order(order_id=f"o{i}") for i in range(30)]
    rows[20]["quantity"] = "0"  # out_of_range in the third batch
    table = pa.table({c: [r[c] or None for r in rows] for c in ORDER})
    folder = land(settings, "orders", {})
    pq.write_table(table, folder / "a.parquet")
    result = ingest_feed(settings, "orders", DS)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (30, 29, 1)
    [(line, code, raw)] = query(settings, "select source_line, reason_code, raw_row from ingest.quarantine")
    expected = io.StringIO()
    csv.writer(expected, lineterminator="").writerow(rows[20].values())
    assert (line, code, raw) == (21, "out_of_range", expected.getvalue())


def test_good_rows_are_numbered_around_the_malformed_records() -> None:
    invalid = readers._InvalidRows([(3, "", 0, 0), (4, "", 0, 0), (7, "", 0, 0)])  # header = record 1
    # records 2, 5, 6, 8, 9, … are good; asked in two pieces, as two batches would be
    assert readers._good_records(invalid, 0, 3).tolist() == [2, 5, 6]
    assert readers._good_records(invalid, 3, 3).tolist() == [8, 9, 10]
    assert readers._good_records(readers._InvalidRows(), 5, 2).tolist() == [7, 8]
