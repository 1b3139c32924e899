"""The source-data generator (DESIGN §3, §10): determinism, the landing contract, invariants, faults."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from trust_dw.config import Settings
from trust_dw.feeds import FEEDS
from trust_dw.generate import FAULT_KINDS, generate

START, DAYS, SEED = "2026-01-01", 4, 42
DS = [f"2026-01-0{i}" for i in range(1, DAYS + 1)]  # the days with faults injected
CLEAN_DAYS = 30  # a full W30 window for the calibration checks
CLEAN_DS = [f"2026-01-{i:02d}" for i in range(1, CLEAN_DAYS + 1)]


def _settings(home: Path) -> Settings:
    return Settings(home=home)


def _digests(landing: Path) -> dict[str, str]:
    return {
        p.relative_to(landing).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(landing.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    s = _settings(tmp_path_factory.mktemp("clean"))
    generate(s, "tiny", START, CLEAN_DAYS, SEED)
    return s


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    s = _settings(tmp_path_factory.mktemp("faulty"))
    generate(s, "tiny", START, DAYS, SEED, ",".join(FAULT_KINDS))
    return s


def _read(settings: Settings, feed: str, ds: str) -> pa.Table:
    types = {c.name: c.pa_type for c in FEEDS[feed].columns}
    return pacsv.read_csv(
        settings.feed_ds_dir(feed, ds) / "part-00000.csv",
        convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=True, true_values=["true"], false_values=["false"]
        ),
    )


def _orders(settings: Settings, days: list[str]) -> duckdb.DuckDBPyConnection:
    """All orders CDC rows of the run in DuckDB (typed by the contract's Arrow schema)."""
    con = duckdb.connect()
    tables = []
    for ds in days:
        t = _read(settings, "orders", ds)
        tables.append(t.append_column("_ds", pa.array([ds] * t.num_rows)))
    con.register("orders_in", pa.concat_tables(tables))
    con.execute("create table orders as select * from orders_in")
    return con


def test_same_seed_same_bytes_and_prefix_property(clean: Settings, tmp_path: Path) -> None:
    again = _settings(tmp_path / "again")
    generate(again, "tiny", START, 3, SEED)  # a shorter run is a prefix of the longer one
    first = _digests(clean.landing_dir)
    second = _digests(again.landing_dir)
    assert len(second) > 40
    assert {k: v for k, v in first.items() if k in second} == second
    other = _settings(tmp_path / "other")
    generate(other, "tiny", START, 1, SEED + 1)
    changed = [k for k, v in _digests(other.landing_dir).items() if k in first and first[k] != v]
    assert any(k.startswith("orders/") for k in changed)


def test_every_feed_every_day_matches_the_contract(clean: Settings) -> None:
    for ds in CLEAN_DS[:3] + CLEAN_DS[-2:]:
        for name, feed in FEEDS.items():
            folder = clean.feed_ds_dir(name, ds)
            assert (folder / "_SUCCESS").exists() and (folder / "_SUCCESS").stat().st_size == 0
            header = (folder / "part-00000.csv").read_text(encoding="utf-8").splitlines()[0]
            assert header.split(",") == feed.column_names
            table = _read(clean, name, ds)
            assert table.num_rows > 0 or name == "violations"
            for col in feed.required_columns:
                assert table.column(col).null_count == 0, (name, ds, col)


def test_formats_are_as_specified(clean: Settings) -> None:
    text = (clean.feed_ds_dir("orders", DS[1]) / "part-00000.csv").read_text(encoding="utf-8")
    row = next(csv.DictReader(text.splitlines()))
    assert row["updated_at"].endswith("+08:00") and row["updated_at"][10] == "T"
    assert row["unit_price"].split(".")[1].__len__() == 2
    assert row["is_fan_order"] in ("true", "false")
    shops = (clean.feed_ds_dir("shops", DS[0]) / "part-00000.csv").read_text(encoding="utf-8")
    quoted = [line for line in shops.splitlines() if '"' in line]
    assert quoted, "some free-text names carry quotes/commas and must be RFC 4180 quoted"
    parsed = list(csv.reader(quoted))
    assert all(len(r) == len(FEEDS["shops"].columns) for r in parsed)
    assert any('"' in r[1] and "," in r[1] for r in parsed)


def test_order_invariants(clean: Settings) -> None:
    con = _orders(clean, CLEAN_DS)
    products = clean.feed_ds_dir("products", CLEAN_DS[-1]) / "part-00000.csv"
    creators = clean.feed_ds_dir("creators", CLEAN_DS[-1]) / "part-00000.csv"
    con.execute(f"create table products as select * from read_csv('{products}', all_varchar=true)")
    con.execute(f"create table creators as select * from read_csv('{creators}', all_varchar=true)")
    wrong_shop = con.execute(
        "select count(*) from orders o join products p using (product_id) where p.shop_id <> o.shop_id"
    ).fetchone()[0]
    assert wrong_shop == 0
    unknown = con.execute("select count(*) from orders o anti join products p using (product_id)").fetchone()[
        0
    ]
    assert unknown == 0
    creator_rules = con.execute("""
        select
            count(*) filter (where channel = 'shelf' and creator_id is not null),
            count(*) filter (where channel = 'live_self' and (c.shop_id is null or c.shop_id <> o.shop_id)),
            count(*) filter (where channel like '%distribution'
                                   and (c.creator_id is null or c.shop_id is not null)),
            count(*) filter (where pay_amount <> quantity * unit_price),
            count(*) filter (where least(cancelled_at, shipped_at, collected_at, delivered_at,
                                         refund_requested_at, refund_completed_at, dispute_opened_at,
                                         reviewed_at) < paid_at),
            count(*) filter (where epoch(updated_at) < epoch(cast(_ds as date)) - 8 * 3600
                                   or epoch(updated_at) >= epoch(cast(_ds as date) + 1) - 8 * 3600),
            count(*) filter (where (refund_requested_at is null) <> (refund_type is null)),
            count(*) filter (where (reviewed_at is null) <> (review_rating is null))
        from orders o left join creators c using (creator_id)
    """).fetchone()
    assert creator_rules == (0, 0, 0, 0, 0, 0, 0, 0)
    # CDC: each order's updated_at grows from drop to drop, and a drop holds one row per order
    regress = con.execute("""
        select count(*) from (
            select updated_at < lag(updated_at) over (partition by order_id order by _ds) as back from orders
        ) where back
    """).fetchone()[0]
    assert regress == 0
    assert con.execute("select count(*) - count(distinct (order_id, _ds)) from orders").fetchone()[0] == 0
    # orders come back on later days as they ship, are delivered, refunded, reviewed
    seen = con.execute("select max(n) from (select count(*) n from orders group by order_id)").fetchone()[0]
    assert seen >= 3


def _manifest(settings: Settings, ds: str) -> dict:
    return json.loads((settings.landing_dir / "_faults" / f"ds={ds}.json").read_text(encoding="utf-8"))


def test_faults_leave_clean_rows_untouched(clean: Settings, faulty: Settings) -> None:
    for ds in DS:
        for feed in FEEDS:
            a = (clean.feed_ds_dir(feed, ds) / "part-00000.csv").read_text(encoding="utf-8").splitlines()
            b = (faulty.feed_ds_dir(feed, ds) / "part-00000.csv").read_text(encoding="utf-8").splitlines()
            drift = [d for d in _manifest(faulty, ds)["drift"] if d["feed"] == feed]
            if drift:  # the drifted file carries one extra column at the end of every line
                b = [line.rsplit(",", 1)[0] for line in b]
            assert b[: len(a)] == a, (feed, ds)


def test_fault_manifest_matches_the_files(faulty: Settings) -> None:
    totals = dict.fromkeys(FAULT_KINDS, 0)
    for ds in DS:
        m = _manifest(faulty, ds)
        for kind in FAULT_KINDS:
            assert m["counts"][kind] == len(m[kind])
            totals[kind] += m["counts"][kind]
        files = {f: (faulty.landing_dir / f).read_text(encoding="utf-8").splitlines() for f in m["files"]}
        for f, info in m["files"].items():
            assert len(files[f]) - 1 == info["rows"]
        for f, lines in files.items():  # exact duplicate lines in a file are exactly the same_file duplicates
            same_file = [d for d in m["duplicates"] if d["kind"] == "same_file" and d["file"] == f]
            assert len(lines) - len(set(lines)) == len(same_file), f
        for d in m["duplicates"]:
            original = (faulty.landing_dir / d["original_file"]).read_text(encoding="utf-8").splitlines()
            assert files[d["file"]][d["line"] - 1] == original[d["original_line"] - 1] or m["drift"]
        for late in m["late"]:
            row = next(csv.reader([files[late["file"]][late["line"] - 1]]))
            assert row[0] == late["order_id"] and row[1] == late["updated_at"]
            assert late["updated_at"] < late["superseded_by_updated_at"]
        header = {f: next(csv.reader([lines[0]])) for f, lines in files.items()}
        for bad in m["malformed"]:
            row = next(csv.reader([files[bad["file"]][bad["line"] - 1]]))
            assert bad["reason_code"] in {
                "malformed_row", "missing_required", "unparseable_value", "invalid_enum", "out_of_range",
                "future_timestamp",
            }  # fmt: skip
            if bad["reason_code"] == "malformed_row":
                assert len(row) != len(header[bad["file"]])
            else:
                assert row[header[bad["file"]].index(bad["column"])] == bad["value"]
        for o in m["orphans"]:
            row = next(csv.reader([files[o["file"]][o["line"] - 1]]))
            assert row[0] == o["order_id"]
        assert sum(m["orphan_counts"].get("orders", {}).values()) == len(m["orphans"])
    assert all(totals[k] > 0 for k in FAULT_KINDS), totals
    feeds_with_malformed = {b["feed"] for ds in DS for b in _manifest(faulty, ds)["malformed"]}
    assert len(feeds_with_malformed) >= 4


def test_real_ingest_agrees_with_the_manifest(faulty: Settings) -> None:
    """The manifest is the answer key of ingest: per file the rows read, every quarantined (line, reason)."""
    from trust_dw.ingest import ingest_ds
    from trust_dw.warehouse import connect

    for ds in DS:
        results = {r.feed: r for r in ingest_ds(faulty, ds)}
        m = _manifest(faulty, ds)
        for info in m["files"].values():
            r = results[info["feed"]]
            assert (r.rows_read, r.rows_quarantined) == (info["rows"], info["expected_quarantined"]), r
        drifted = {(d["feed"], d["column"]) for d in m["drift"]}
        assert drifted == {(f, c) for f, r in results.items() for c in r.drift_columns}
        with connect(faulty, read_only=True) as con:
            got = set(
                con.execute(
                    "select source_file, source_line, reason_code from ingest.quarantine where ds = ?", [ds]
                ).fetchall()
            )
        expected = {(b["file"], b["line"], b["reason_code"]) for b in m["malformed"]}
        assert {(Path(f).as_posix().split("landing/")[-1], n, c) for f, n, c in got} == expected


def test_calibration_over_a_w30_window(clean: Settings) -> None:
    """DESIGN §10 targets on 30 tiny days (docs/generator.md has the `small` figures)."""
    from trust_dw.generate.calibration import report

    r = report(clean, CLEAN_DS[-1])
    p = r["platform"]
    assert 0.30 <= p["brand_gmv_share"] <= 0.50
    assert 0.55 <= p["repurchasing_buyer_share"] <= 0.75  # ≈ 65 % of buyers buy again in W30
    assert p["fan_share_of_repeat_orders"] > 0.6  # ... mostly from fans (private domain)
    assert 0.02 <= p["refund_rate"] <= 0.10  # refunds of a few percent ...
    low, mid, high = p["shop_quality_refund_p10_p50_p90"]
    assert low <= 0.005 and high >= 3 * mid and high >= 0.03  # ... with a minority of shops far worse
    assert p["top20pct_shop_gmv_share"] >= 0.7  # long-tailed GMV per shop
    assert p["top20pct_creator_distribution_gmv_share"] >= 0.6  # ... and per creator
    assert 150 <= p["aov"] <= 450
    assert set(r["shop_grades_scored"]) == {"excellent", "good", "fair", "poor"}
    assert min(r["shop_grades_scored"].values()) >= 5
    assert {"L0", "L1", "L2", "L3", "L4", "L5"} <= set(r["product_tiers"])
    assert {"new_store", "climbing"} <= set(r["growth_stages"])
    assert r["creator_scores"]["p90"] - r["creator_scores"]["p10"] >= 20


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": "huge"}, "unknown scale 'huge'"),
        ({"days": 0}, "days must be ≥ 1"),
        ({"faults": "duplicates,typo"}, "unknown fault kind(s) typo"),
        ({"start": "2026-02-30"}, "day is out of range"),
    ],
)
def test_bad_arguments_are_refused_before_writing(tmp_path: Path, kwargs: dict, message: str) -> None:
    s = _settings(tmp_path)
    args = {"scale": "tiny", "start": START, "days": 1, "seed": SEED, "faults": None} | kwargs
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        generate(s, **args)
    assert not any(s.landing_dir.rglob("*.csv"))


def test_cli_generate_writes_one_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trust_dw.cli import app
    from typer.testing import CliRunner

    monkeypatch.setenv("TRUST_DW_HOME", str(tmp_path / "cli"))
    result = CliRunner().invoke(
        app, ["generate", "--scale", "tiny", "--days", "1", "--faults", "late,orphans"]
    )
    assert result.exit_code == 0, result.output
    assert "orders" in result.output and "faults injected" in result.output
    landing = tmp_path / "cli" / "landing"
    assert (landing / "orders" / "ds=2026-01-01" / "_SUCCESS").exists()
    assert json.loads((landing / "_faults" / "ds=2026-01-01.json").read_text())["counts"]["orphans"] == 6
    bad = CliRunner().invoke(app, ["generate", "--faults", "bogus"])
    assert bad.exit_code == 2 and "unknown fault kind" in bad.output
