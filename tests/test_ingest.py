"""Ingest (DESIGN §3, §4): every row loaded or quarantined with its reason, file-level faults fail the feed,
loads are idempotent. Real files, real pyarrow, real DuckDB; each test asserts exact rows, codes and lines."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from trust_dw.cli import app
from trust_dw.config import Settings
from trust_dw.feeds import FEEDS
from trust_dw.ingest import (
    BadFileError,
    FeedNotReady,
    IngestBatchError,
    IngestError,
    feed_ready,
    ingest_ds,
    ingest_feed,
)
from trust_dw.warehouse import connect
from typer.testing import CliRunner

DS = "2026-01-01"
ORDER = {
    "order_id": "o1",
    "updated_at": "2026-01-01T10:00:00+08:00",
    "shop_id": "s1",
    "product_id": "p1",
    "creator_id": "",
    "buyer_id": "b1",
    "channel": "shelf",
    "is_fan_order": "true",
    "quantity": "1",
    "unit_price": "10.00",
    "pay_amount": "10.00",
    "paid_at": "2026-01-01T09:00:00+08:00",
    **{c: "" for c in FEEDS["orders"].column_names[12:]},
}
SHOP = {
    "shop_id": "s1",
    "shop_name": "Shop, one",
    "category": "beauty",
    "brand_id": "",
    "brand_level": "flagship",
    "opened_at": "2025-01-01",
    "fans_at_open": "0",
    "fans": "10",
    "status": "active",
}


def csv_text(rows: list[dict], header: list[str] | None = None) -> str:
    header = header or list(rows[0])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(c, "") for c in header])
    return out.getvalue()


def order(**changes: str) -> dict:
    return {**ORDER, **changes}


def land(
    settings: Settings, feed: str, files: dict[str, str | bytes], ds: str = DS, success: bool = True
) -> Path:
    folder = settings.feed_ds_dir(feed, ds)
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    if success:
        (folder / "_SUCCESS").touch()
    return folder


def query(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    con = connect(settings, read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def quarantine(settings: Settings, feed: str = "orders") -> list[tuple]:
    return query(
        settings,
        "select source_file, source_line, reason_code, reason_detail from ingest.quarantine "
        "where feed = ? order by source_file, source_line",
        [feed],
    )


def ledger(settings: Settings, feed: str = "orders", ds: str = DS) -> tuple:
    rows = query(
        settings,
        "select status, files, rows_read, rows_loaded, rows_quarantined, quarantine_share, drift_columns, "
        "message, loaded_at from ingest.load_ledger where feed = ? and ds = ?",
        [feed, date.fromisoformat(ds)],
    )
    assert len(rows) == 1
    return rows[0]


def raw_ids(settings: Settings, feed: str = "orders", key: str = "order_id") -> list[tuple]:
    return query(
        settings, f"select {key}, _ds::varchar, _source_file, _source_line from raw.{feed} order by all"
    )


F = f"orders/ds={DS}/a.csv"


# --- the happy path and row-level faults ---------------------------------------------------------


def test_clean_file_is_typed_into_raw_with_lineage(settings: Settings) -> None:
    land(
        settings,
        "orders",
        {"a.csv": csv_text([order(), order(order_id="o2", creator_id="c9", quantity="3")])},
    )
    result = ingest_feed(settings, "orders", DS)
    assert (result.status, result.files, result.rows_read, result.rows_loaded, result.rows_quarantined) == (
        "loaded",
        1,
        2,
        2,
        0,
    )
    row = query(
        settings,
        "select order_id, creator_id, is_fan_order, quantity, pay_amount, paid_at, _ds, _source_file, "
        "_source_line "
        "from raw.orders where order_id = 'o2'",
    )[0]
    assert row[:5] == ("o2", "c9", True, 3, Decimal("10.00"))
    assert row[5] == datetime(2026, 1, 1, 1, 0, tzinfo=UTC)  # 09:00 +08:00
    assert row[6:] == (date(2026, 1, 1), F, 3)
    # empty strings are NULL
    assert query(settings, "select creator_id, cancelled_at from raw.orders where order_id = 'o1'") == [
        (None, None)
    ]
    types = dict(
        query(
            settings,
            "select column_name, data_type from information_schema.columns where table_name='orders'",
        )
    )
    assert types["paid_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["pay_amount"] == "DECIMAL(18,2)"
    assert types["_source_line"] == "BIGINT"


def test_row_faults_are_quarantined_with_reason_line_and_raw_row(settings: Settings) -> None:
    rows = [
        order(order_id="ok"),
        order(order_id="neg", pay_amount="-3.00"),
        order(order_id="enum", channel="tv_shopping"),
        order(order_id="", buyer_id="b2"),
        order(order_id="qty", quantity="1.5"),
        order(order_id="noffset", paid_at="2026-01-01 09:00:00"),
        order(order_id="future", paid_at="2026-01-02T00:00:01+08:00"),
        order(order_id="edge", paid_at="2026-01-02T00:00:00+08:00"),  # exactly ds_end: not after it
        order(order_id="rating", review_rating="6", reviewed_at="2026-01-01T12:00:00+08:00"),
        order(order_id="manyfaults", channel="bad", quantity="0", pay_amount="-1.00"),
        order(order_id="lateupd", updated_at="2026-01-02T08:00:00+08:00"),
        order(order_id="dec", unit_price="1.005"),
        order(order_id="bool", is_fan_order="maybe"),
    ]
    land(settings, "orders", {"a.csv": csv_text(rows)})
    result = ingest_feed(settings, "orders", DS)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (13, 2, 11)
    assert result.quarantine_share == pytest.approx(11 / 13)
    assert [r[0] for r in raw_ids(settings)] == ["edge", "ok"]
    assert quarantine(settings) == [
        (F, 3, "out_of_range", "pay_amount=-3.00 < 0"),
        (
            F,
            4,
            "invalid_enum",
            "channel=tv_shopping not in (live_self, live_distribution, video_distribution, shelf)",
        ),
        (F, 5, "missing_required", "order_id is empty"),
        (F, 6, "unparseable_value", "quantity=1.5 is not an INTEGER"),
        (F, 7, "unparseable_value", "paid_at=2026-01-01 09:00:00 has no UTC offset"),
        (
            F,
            8,
            "future_timestamp",
            "paid_at=2026-01-02T00:00:01+08:00 is after ds_end 2026-01-02T00:00:00+08:00",
        ),
        (F, 10, "out_of_range", "review_rating=6 > 5"),
        (
            F,
            11,
            "invalid_enum",
            "channel=bad not in (live_self, live_distribution, video_distribution, shelf)",
        ),
        (
            F,
            12,
            "future_timestamp",
            "updated_at=2026-01-02T08:00:00+08:00 is after ds_end 2026-01-02T00:00:00+08:00",
        ),
        (F, 13, "unparseable_value", "unit_price=1.005 is not a DECIMAL(18,2) (at most 2 decimal places)"),
        (F, 14, "unparseable_value", "is_fan_order=maybe is not a boolean"),
    ]
    raw = query(settings, "select raw_row from ingest.quarantine where source_line = 3")[0][0]
    assert raw == csv_text([rows[1]]).splitlines()[1]


def test_timestamp_shapes_need_an_offset_and_numbers_are_strict(settings: Settings) -> None:
    accepted = {
        "z": ("2026-01-01T01:00:00Z", "10.00"),
        "compact": ("2026-01-01 09:00:00.250+0800", "10.5"),
        "hours": ("2026-01-01T09:00+08", "7"),
        "negative": ("2025-12-31T13:00:00-12:00", "12.300"),
    }
    rejected = {
        "nooffset": ("2026-01-01T09:00:00", "10.00"),
        "badhour": ("2026-01-01T25:00:00+08:00", "10.00"),
        "unpadded": ("2026-1-01T09:00:00+08:00", "10.00"),
        "dateonly": ("2026-01-01", "10.00"),
        "exponent": ("2026-01-01T09:00:00+08:00", "1e3"),
        "comma": ("2026-01-01T09:00:00+08:00", "1,000.00"),
    }
    rows = [
        order(order_id=k, paid_at=ts, pay_amount=amount)
        for k, (ts, amount) in {**accepted, **rejected}.items()
    ]
    land(settings, "orders", {"a.csv": csv_text(rows)})
    assert ingest_feed(settings, "orders", DS).rows_loaded == len(accepted)
    loaded = dict(query(settings, "select order_id, paid_at from raw.orders"))
    assert loaded == {
        "z": datetime(2026, 1, 1, 1, tzinfo=UTC),
        "compact": datetime(2026, 1, 1, 1, 0, 0, 250000, tzinfo=UTC),
        "hours": datetime(2026, 1, 1, 1, tzinfo=UTC),
        "negative": datetime(2026, 1, 1, 1, tzinfo=UTC),
    }
    assert [(line, code, detail.split("=")[0]) for _, line, code, detail in quarantine(settings)] == [
        (6, "unparseable_value", "paid_at"),
        (7, "unparseable_value", "paid_at"),
        (8, "unparseable_value", "paid_at"),
        (9, "unparseable_value", "paid_at"),
        (10, "unparseable_value", "pay_amount"),
        (11, "unparseable_value", "pay_amount"),
    ]


def test_orders_duplicates_are_loaded_but_snapshot_keys_are_not(settings: Settings) -> None:
    land(
        settings,
        "orders",
        {"a.csv": csv_text([order(), order(), order(updated_at="2026-01-01T11:00:00+08:00")])},
    )
    assert ingest_feed(settings, "orders", DS).rows_loaded == 3  # CDC: dbt collapses, ingest keeps all
    shops = [SHOP, {**SHOP, "shop_id": "s2"}, {**SHOP, "shop_name": "again"}, {**SHOP, "fans": "-1"}]
    land(settings, "shops", {"a.csv": csv_text(shops[:2]), "b.csv": csv_text(shops[2:])})
    result = ingest_feed(settings, "shops", DS)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 2, 2)
    assert quarantine(settings, "shops") == [
        (
            f"shops/ds={DS}/b.csv",
            2,
            "duplicate_key",
            f"key shop_id=s1 already loaded from shops/ds={DS}/a.csv line 2",
        ),
        (f"shops/ds={DS}/b.csv", 3, "out_of_range", "fans=-1 < 0"),
    ]
    assert query(settings, "select shop_id, shop_name from raw.shops order by 1") == [
        ("s1", "Shop, one"),
        ("s2", "Shop, one"),
    ]


def test_capabilities_every_item_must_be_in_the_enum(settings: Settings) -> None:
    base = {
        "provider_id": "v1",
        "provider_name": "P",
        "provider_type": "core_base",
        "capabilities": "live_ops;fulfilment",
        "admitted_at": "2025-06-01",
        "status": "active",
        "updated_at": "2026-01-01T00:00:00+08:00",
    }
    rows = [base, {**base, "provider_id": "v2", "capabilities": "live_ops;teleportation"}]
    rows.append({**base, "provider_id": "v3", "capabilities": "live_ops;"})
    land(settings, "providers", {"p.csv": csv_text(rows)})
    assert ingest_feed(settings, "providers", DS).rows_loaded == 1
    assert [(q[1], q[2], q[3]) for q in quarantine(settings, "providers")] == [
        (
            3,
            "invalid_enum",
            "capabilities item 'teleportation' not in (live_ops, creator_incubation, fulfilment, "
            "supply_chain, traffic_marketing)",
        ),
        (
            4,
            "invalid_enum",
            "capabilities item '' not in (live_ops, creator_incubation, fulfilment, supply_chain, "
            "traffic_marketing)",
        ),
    ]


def test_malformed_rows_keep_their_physical_line_with_quoted_newlines_and_blank_lines(
    settings: Settings,
) -> None:
    header = ",".join(SHOP)
    good = ",".join(v if "," not in v else f'"{v}"' for v in SHOP.values())
    text = (
        f"{header}\n{good}\n"
        + good.replace("s1,", "s2,", 1).replace('"Shop, one"', '"Shop\nwith a newline"')
        + "\n\ns3,too,few\n"
        + good.replace("s1,", "s4,", 1)
        + "\n"
    )
    land(settings, "shops", {"a.csv": text})
    result = ingest_feed(settings, "shops", DS)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 3, 1)
    assert raw_ids(settings, "shops", "shop_id") == [
        ("s1", DS, f"shops/ds={DS}/a.csv", 2),
        ("s2", DS, f"shops/ds={DS}/a.csv", 3),
        ("s4", DS, f"shops/ds={DS}/a.csv", 7),
    ]
    assert quarantine(settings, "shops") == [
        (f"shops/ds={DS}/a.csv", 6, "malformed_row", "expected 9 fields, found 3")
    ]
    assert query(settings, "select shop_name from raw.shops where shop_id = 's2'") == [
        ("Shop\nwith a newline",)
    ]


def test_crlf_and_bom_files_keep_their_line_numbers_and_raw_rows(settings: Settings) -> None:
    text = csv_text([SHOP, {**SHOP, "shop_id": "s2", "status": "gone"}]).replace("\n", "\r\n")
    land(settings, "shops", {"a.csv": b"\xef\xbb\xbf" + text.encode()})
    assert ingest_feed(settings, "shops", DS).rows_loaded == 1
    assert query(settings, "select shop_id, status, _source_line from raw.shops") == [("s1", "active", 2)]
    assert query(settings, "select source_line, reason_code, raw_row from ingest.quarantine") == [
        (3, "invalid_enum", text.split("\r\n")[2])
    ]


HOLD_FILE = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
sys.stdin.readline()
"""


def test_a_second_writer_gets_a_clear_error(settings: Settings) -> None:
    land(settings, "shops", {"a.csv": csv_text([SHOP])})
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(  # another process (e.g. dbt) holds the working file
        [sys.executable, "-c", HOLD_FILE, str(settings.warehouse_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline() == b"holding\n"
        with pytest.raises(IngestError, match=r"cannot open the working file .* \(one writer at a time"):
            ingest_ds(settings, DS, ["shops"])
        busy = CliRunner().invoke(app, ["status", "--ds", DS], terminal_width=200)
        assert busy.exit_code == 0
        assert "the working file is busy (a writer holds it)" in busy.output
    finally:
        holder.communicate(b"done\n", timeout=60)


def test_truncated_file_cut_mid_row_quarantines_the_partial_row(settings: Settings) -> None:
    text = csv_text([order(order_id="o1"), order(order_id="o2"), order(order_id="o3")])
    cut = text[: text.index("o3") + 30]  # the upload stopped inside the last row
    land(settings, "orders", {"a.csv": cut})
    result = ingest_feed(settings, "orders", DS)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    [(file, line, code, detail)] = quarantine(settings)
    assert (file, line, code) == (F, 4, "malformed_row")
    assert detail.startswith("expected 23 fields, found ")
    assert query(settings, "select raw_row from ingest.quarantine") == [(cut.splitlines()[-1],)]


# --- file-level faults ----------------------------------------------------------------------------


def test_file_level_faults_fail_the_feed_and_keep_the_previous_partition(settings: Settings) -> None:
    land(settings, "orders", {"a.csv": csv_text([order()])})
    ingest_feed(settings, "orders", DS)
    before = raw_ids(settings)

    latin1 = csv_text([order()]).encode().replace(b"s1", b"s\xe91")
    bad_byte = latin1.index(b"\xe9")
    cases = {
        "missing required column": (
            csv_text([order()], header=[c for c in ORDER if c != "buyer_id"]),
            "required column(s) missing from the header: buyer_id",
        ),
        "not UTF-8": (latin1, f"not valid UTF-8 at byte {bad_byte}"),
        "unterminated quote": (
            csv_text([order()]) + 'o2,"2026-01-01T10:00:00+08:00,s1\n',
            "unterminated quoted field in the record starting at line 3",
        ),
    }
    for name, (content, fault) in cases.items():
        land(settings, "orders", {"a.csv": content, "b.csv": csv_text([order(order_id="b")])})
        with pytest.raises(BadFileError) as info:
            ingest_feed(settings, "orders", DS)
        message = str(info.value)
        assert message.startswith(str(settings.feed_ds_dir("orders", DS) / "a.csv")), name
        assert fault in message, name
        status, files, rows_read, *_, msg, _ = ledger(settings)
        assert (status, files, rows_read, msg) == ("failed", 2, 0, message)
        assert raw_ids(settings) == before, name  # nothing of b.csv either


def test_unreadable_parquet_fails_the_feed(settings: Settings) -> None:
    land(settings, "orders", {"a.parquet": b"PAR1 this is not parquet"})
    with pytest.raises(BadFileError, match=r"a\.parquet: unreadable Parquet"):
        ingest_feed(settings, "orders", DS)
    assert ledger(settings)[0] == "failed"


def test_empty_files_load_zero_rows_with_a_warning(settings: Settings) -> None:
    header_only = ",".join(ORDER) + "\n"
    land(settings, "orders", {"a.csv": b"", "b.csv": header_only})
    result = ingest_feed(settings, "orders", DS)
    assert (result.status, result.files, result.rows_read, result.rows_loaded) == ("loaded", 2, 0, 0)
    assert result.quarantine_share == 0.0
    assert (
        result.message
        == f"{F}: empty file (0 bytes), no header: 0 rows; orders/ds={DS}/b.csv: header only, 0 rows"
    )
    assert ledger(settings)[:5] == ("loaded", 2, 0, 0, 0)


def test_folder_without_success_is_not_ready_and_loads_nothing(settings: Settings) -> None:
    folder = land(settings, "orders", {"a.csv": csv_text([order()])}, success=False)
    assert not feed_ready(settings, "orders", DS)
    with pytest.raises(FeedNotReady, match=f"{folder} has no _SUCCESS marker"):
        ingest_feed(settings, "orders", DS)
    with pytest.raises(FeedNotReady, match="does not exist"):
        ingest_feed(settings, "shops", DS)
    (folder / "_SUCCESS").touch()
    assert feed_ready(settings, "orders", DS)
    assert not settings.warehouse_path.exists() or query(
        settings, "select count(*) from ingest.load_ledger"
    ) == [(0,)]


# --- drift, Parquet -------------------------------------------------------------------------------


def test_schema_drift_is_kept_out_and_reported(settings: Settings) -> None:
    header = [*ORDER, "coupon_code", "device"]
    land(
        settings,
        "orders",
        {"a.csv": csv_text([{**order(), "coupon_code": "X", "device": "ios"}], header=header)},
    )
    result = ingest_feed(settings, "orders", DS)
    assert result.drift_columns == ("coupon_code", "device")
    assert result.rows_loaded == 1
    assert ledger(settings)[6] == "coupon_code, device"
    assert query(settings, "select source_file, column_name from ingest.schema_drift order by 2") == [
        (F, "coupon_code"),
        (F, "device"),
    ]
    columns = [
        r[0]
        for r in query(
            settings, "select column_name from information_schema.columns where table_name = 'orders'"
        )
    ]
    assert "coupon_code" not in columns


def test_absent_optional_columns_load_as_null_with_a_warning(settings: Settings) -> None:
    header = [c for c in ORDER if c not in ("creator_id", "review_rating")]
    land(settings, "orders", {"a.csv": csv_text([order(creator_id="c1")], header=header)})
    result = ingest_feed(settings, "orders", DS)
    assert (result.status, result.rows_loaded) == ("loaded", 1)
    assert result.message == f"{F}: optional column(s) absent, loaded as NULL: creator_id, review_rating"
    assert query(settings, "select creator_id, review_rating from raw.orders") == [(None, None)]


def test_parquet_file_is_loaded_like_csv(settings: Settings) -> None:
    schema = FEEDS["orders"].arrow_schema()
    typed = pa.table(
        {
            f.name: pa.array(
                [
                    {
                        "order_id": "p1",
                        "updated_at": datetime(2026, 1, 1, 2, tzinfo=UTC),
                        "shop_id": "s1",
                        "product_id": "p1",
                        "buyer_id": "b1",
                        "channel": "live_self",
                        "is_fan_order": False,
                        "quantity": 2,
                        "unit_price": Decimal("5.00"),
                        "pay_amount": Decimal(v),
                        "paid_at": datetime(2026, 1, 1, 1, tzinfo=UTC),
                    }.get(f.name)
                    for v in ("10.00", "-1.00")
                ],
                f.type,
            )
            for f in schema
            if not f.name.startswith("_")
        }
    )
    folder = land(settings, "orders", {})
    pq.write_table(typed, folder / "a.parquet")
    result = ingest_feed(settings, "orders", DS)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (2, 1, 1)
    assert raw_ids(settings) == [("p1", DS, f"orders/ds={DS}/a.parquet", 1)]
    assert query(settings, "select paid_at, pay_amount from raw.orders") == [
        (datetime(2026, 1, 1, 1, tzinfo=UTC), Decimal("10.00"))
    ]
    [(file, line, code, detail)] = quarantine(settings)
    assert (file, line, code, detail) == (
        f"orders/ds={DS}/a.parquet",
        2,
        "out_of_range",
        "pay_amount=-1.00 < 0",
    )


# --- idempotence ----------------------------------------------------------------------------------


def test_same_files_again_change_nothing_and_a_redelivery_replaces_the_partition(settings: Settings) -> None:
    land(
        settings, "orders", {"a.csv": csv_text([order(order_id="a1"), order(order_id="a2", pay_amount="-1")])}
    )
    land(settings, "orders", {"a.csv": csv_text([order(order_id="d2")])}, ds="2026-01-02")
    ingest_feed(settings, "orders", "2026-01-02")
    first = ingest_feed(settings, "orders", DS)
    ledger_before = ledger(settings)

    again = ingest_feed(settings, "orders", DS)
    assert again.status == "unchanged"
    assert (again.rows_read, again.rows_loaded, again.rows_quarantined) == (2, 1, 1)
    assert ledger(settings) == ledger_before  # not even loaded_at moved
    assert first.rows_loaded == 1

    # re-delivery: a.csv changed, b.csv added
    land(
        settings,
        "orders",
        {"a.csv": csv_text([order(order_id="a9")]), "b.csv": csv_text([order(order_id="b1")])},
    )
    replaced = ingest_feed(settings, "orders", DS)
    assert (replaced.status, replaced.files, replaced.rows_read, replaced.rows_quarantined) == (
        "loaded",
        2,
        2,
        0,
    )
    assert raw_ids(settings) == [
        ("a9", DS, F, 2),
        ("b1", DS, f"orders/ds={DS}/b.csv", 2),
        ("d2", "2026-01-02", "orders/ds=2026-01-02/a.csv", 2),
    ]
    assert quarantine(settings) == []
    # stored in load order: files by name, then line order
    in_storage_order = query(
        settings, "select order_id from raw.orders where _ds = ? order by rowid", [date(2026, 1, 1)]
    )
    assert in_storage_order == [("a9",), ("b1",)]
    assert query(
        settings, "select source_file from ingest.loaded_files where ds = ? order by 1", [date(2026, 1, 1)]
    ) == [
        (F,),
        (f"orders/ds={DS}/b.csv",),
    ]


def test_a_crash_inside_the_swap_leaves_the_previous_state(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trust_dw.ingest import ledger as ledger_module

    land(settings, "orders", {"a.csv": csv_text([order(order_id="old")])})
    ingest_feed(settings, "orders", DS)
    land(settings, "orders", {"a.csv": csv_text([order(order_id="new")])})

    def boom(con, row):  # the last statement of the transaction fails
        raise RuntimeError("disk full")

    monkeypatch.setattr(ledger_module, "write_ledger", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        ingest_feed(settings, "orders", DS)
    monkeypatch.undo()
    assert [r[0] for r in raw_ids(settings)] == ["old"]
    assert ledger(settings)[0] == "loaded"
    assert ingest_feed(settings, "orders", DS).status == "loaded"  # the new file is loaded on the retry
    assert [r[0] for r in raw_ids(settings)] == ["new"]


# --- ingest_ds and the CLI ------------------------------------------------------------------------


def test_cli_ingest_and_status(settings: Settings) -> None:
    land(settings, "orders", {"a.csv": csv_text([order(), order(order_id="x", channel="nope")])})
    land(settings, "shops", {"a.csv": csv_text([SHOP])})
    runner = CliRunner()

    result = runner.invoke(app, ["ingest", "--ds", DS, "--feed", "orders", "--feed", "shops"])
    assert result.exit_code == 0, result.output
    assert "orders" in result.output and "50.00%" in result.output

    land(settings, "creators", {"a.csv": "creator_id,nickname\nc1,x\n"})
    result = runner.invoke(app, ["ingest", "--ds", DS, "--feed", "creators"], terminal_width=200)
    assert result.exit_code == 1
    assert "required column(s) missing from the header: fans, created_at, status" in result.output

    result = runner.invoke(app, ["status", "--ds", DS, "--quarantine"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "invalid_enum" in result.output and "channel=nope" in result.output
    assert "failed" in result.output


def test_ingest_ds_attempts_every_feed_and_reports_the_failures(settings: Settings) -> None:
    land(settings, "shops", {"a.csv": csv_text([SHOP])})
    with pytest.raises(IngestBatchError) as info:
        ingest_ds(settings, DS, ["shops", "orders"])
    assert [(r.feed, r.status) for r in info.value.results] == [("shops", "loaded"), ("orders", "not_ready")]
    assert "orders/ds=2026-01-01 does not exist" in str(info.value)


# --- generated data: the generator's fault manifest is the answer key ------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from trust_dw.generate import generate

    settings = Settings(home=tmp_path_factory.mktemp("generated"))
    generate(settings, "tiny", DS, 1, 42, "malformed,drift,duplicates")
    return settings


def test_generated_tiny_day_quarantines_exactly_the_manifest_faults(generated: Settings) -> None:
    manifest = json.loads((generated.landing_dir / "_faults" / f"ds={DS}.json").read_text())
    runner = CliRunner(env={"TRUST_DW_HOME": str(generated.home)})
    result = runner.invoke(app, ["ingest", "--ds", DS], terminal_width=200)
    assert result.exit_code == 0, result.output

    got = query(
        generated,
        "select source_file, source_line, reason_code, reason_detail from ingest.quarantine order by all",
    )
    expected = sorted((m["file"], m["line"], m["reason_code"]) for m in manifest["malformed"])
    assert [g[:3] for g in got] == expected
    assert len(expected) == manifest["counts"]["malformed"] > 0
    details = {(g[0], g[1]): g[3] for g in got}
    for m in manifest["malformed"]:  # the detail names the faulty column (the first in column order)
        if m["column"]:
            # a row paid after ds_end was also updated after it: updated_at comes first in the columns
            first = (
                "updated_at"
                if m["reason_code"] == "future_timestamp" and m["feed"] == "orders"
                else m["column"]
            )
            assert re.match(r"\w+", details[(m["file"], m["line"])]).group() == first, m

    ledger_rows = query(
        generated,
        "select feed, status, files, rows_read, rows_loaded, rows_quarantined, drift_columns "
        "from ingest.load_ledger order by feed",
    )
    assert len(ledger_rows) == len(FEEDS)
    files = {info["feed"]: info for info in manifest["files"].values()}
    drift = {d["feed"]: d["column"] for d in manifest["drift"]}
    for feed, status, n_files, read, loaded, quarantined, drift_columns in ledger_rows:
        assert (status, n_files) == ("loaded", 1)
        assert read == loaded + quarantined == files[feed]["rows"]
        assert (loaded, quarantined) == (files[feed]["expected_loaded"], files[feed]["expected_quarantined"])
        assert query(generated, f"select count(*) from raw.{feed} where _ds = ?", [date(2026, 1, 1)]) == [
            (loaded,)
        ]
        assert drift_columns == drift.get(feed)
    # CDC duplicates are loaded, not deduplicated
    for dup in manifest["duplicates"]:
        copies = query(generated, "select count(*) from raw.orders where order_id = ?", [dup["order_id"]])
        assert copies[0][0] >= 2

    again = runner.invoke(app, ["ingest", "--ds", DS], terminal_width=200)
    assert again.exit_code == 0
    assert again.output.count("unchanged") == len(FEEDS)
