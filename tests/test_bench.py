"""The benchmark harness (trust_dw.bench): one real tiny day measured and verified, and the checks that
stop a fast wrong run from passing. Speed itself is never asserted here (bench/README.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from trust_dw.bench.day import dbt_group, union_seconds
from trust_dw.bench.driver import BenchConfig, run_bench
from trust_dw.bench.floor import run_floor
from trust_dw.bench.measure import cpu_ticks, steal_percent
from trust_dw.bench.report import figures, target_results
from trust_dw.bench.verify import landing_records, verify_allocation, verify_day
from trust_dw.config import Settings
from trust_dw.feeds import FEED_NAMES
from trust_dw.warehouse import connect

DS = "2026-01-01"


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, Path]:
    """One tiny day benchmarked for real (generate, ingest, dbt, gate, publish, floor) in its own home."""
    root = tmp_path_factory.mktemp("bench")
    config = BenchConfig(scale="tiny", days=1, home=root / "home", results_dir=root / "results")
    doc = run_bench(config)
    return doc, root / "home", root / "results"


def test_tiny_day_is_measured_verified_and_written(bench_run):
    doc, home, results = bench_run
    assert doc["ok"] and doc["verified"], json.dumps(doc["days"], indent=1)[:4000]
    [day] = doc["days"]
    names = [s["name"] for s in day["stages"]]
    assert names[:8] == [f"ingest {feed}" for feed in FEED_NAMES]
    assert {"dbt build", "dbt core", "dbt marts/scores", "dbt data tests", "gate", "publish"} <= set(names)
    stages = {s["name"]: s for s in day["stages"]}
    # rows in/out are the real counts: what was landed and what was published
    landed = sum(
        landing_records(p) for f in FEED_NAMES for p in (home / "landing" / f / f"ds={DS}").glob("*.csv")
    )
    assert sum(stages[f"ingest {f}"]["rows_in"] for f in FEED_NAMES) == landed == day["rows"]["rows_read"]
    manifests = [json.loads(p.read_text()) for p in (home / "exports").glob(f"*/ds={DS}/_manifest.json")]
    assert len(manifests) == 5
    assert stages["publish"]["rows_out"] == sum(m["rows"] for m in manifests) == day["rows"]["rows_published"]
    assert set(day["totals"]) == {"ingest", "dbt", "gate", "publish"}
    assert day["peak_rss_mib"] > 50 and day["wall_s"] >= sum(day["totals"].values())
    assert 0.0 <= day["cpu_steal_pct"] < 100.0  # Linux: /proc/stat is there
    # the floor read every landing record once and wrote as many rows as were published
    floor = doc["floors"][DS]
    assert floor["records_read"] == landed and floor["rows_written"] == day["rows"]["rows_published"]
    assert doc["figures"]["pipeline_over_floor"] == round(day["wall_s"] / floor["wall_s"], 2)
    text = (results / "tiny.md").read_text()
    assert "pipeline / floor" in text and "| ingest orders |" in text and "verified: **yes**" in text
    assert json.loads((results / "tiny.json").read_text())["verified"] is True


def test_a_wrong_run_does_not_verify(bench_run, tmp_path):
    """Rows missing from a candidate table after publishing, a raw row lost, an aggregate cell summed
    wrong: the coverage, row-count and aggregate-total checks fail, and only they."""
    _, home, _ = bench_run
    copy = tmp_path / "home"
    shutil.copytree(home, copy, ignore=shutil.ignore_patterns("airflow", "gx"))
    settings = Settings(home=copy, threads=1)
    with connect(settings) as con:
        con.execute(
            "delete from marts.shop_scores_daily "
            "where shop_id = (select min(shop_id) from marts.shop_scores_daily)"
        )
        con.execute("delete from raw.products where _source_line = 2")
        con.execute(
            "update core.agg_creator_daily set reviews = reviews + 1 "
            "where rowid = (select min(rowid) from core.agg_creator_daily)"
        )
    failed = {c.name for c in verify_day(settings, DS) if not c.ok}
    assert "shop_scores_daily: one row per shop with a cohort order in W30" in failed
    assert "publish shop_scores_daily: complete, sha256, rows = candidates > 0" in failed
    assert any(name.startswith("ingest products:") for name in failed)
    assert "core.agg_creator_daily: Σ of each measure = Σ over fct_order_contributions" in failed
    assert len(failed) == 4


def test_a_day_over_the_memory_limit_is_killed_and_reported(tmp_path):
    config = BenchConfig(
        scale="tiny", days=1, home=tmp_path / "home", results_dir=tmp_path / "results", max_rss_gb=0.1
    )
    doc = run_bench(config)
    [day] = doc["days"]
    assert not doc["ok"] and not day["ok"] and day["error"].startswith("killed by the bench: RSS")
    assert "**Run failed:** killed by the bench" in (tmp_path / "results" / "tiny.md").read_text()


def test_floor_reads_every_record_once(bench_run):
    _, home, _ = bench_run
    settings = Settings(home=home, threads=1)
    floor = run_floor(settings, DS, 7)
    with connect(settings, read_only=True) as con:
        [(read,)] = con.execute(
            "select sum(rows_read) from ingest.load_ledger where ds = cast($ds as date)", {"ds": DS}
        ).fetchall()
    assert floor["records_read"] == read and floor["rows_written"] == 7


def test_profile_reruns_a_models_compiled_select_and_reads_its_plan(bench_run):
    """`trust-dw bench-profile`: the window model's SELECT of the last run, run again read-only, returns
    the rows the model holds, and the profile names the tables it scanned with the rows it read."""
    from trust_dw.bench.profile import markdown, profile_model, slowest_models

    _, home, _ = bench_run
    settings = Settings(home=home, threads=1)
    profile = profile_model(settings, "int_product_window__w30", operators=50)
    with connect(settings, read_only=True) as con:
        [(held,)] = con.execute("select count(*) from intermediate.int_product_window__w30").fetchall()
        [(cells,)] = con.execute("select count(*) from core.agg_product_buyer_daily").fetchall()
    assert held > 0 and profile.rows_returned == held
    assert profile.materialized == "table" and profile.build_s is not None and profile.wall_s > 0
    assert set(profile.scans) == {
        "core.agg_product_daily",
        "core.agg_product_buyer_daily",
        "core.agg_distribution_daily",
        "intermediate.int_products__as_of_ds",
    }
    assert 0 < profile.scans["core.agg_product_buyer_daily"] <= cells
    seconds = [o.seconds for o in profile.operators]
    assert seconds == sorted(seconds, reverse=True)
    # the (product, buyer) group-by takes the buyer cells in: the scan's rows reach an aggregate
    group_bys = [o for o in profile.operators if o.type == "HASH_GROUP_BY" and o.detail.startswith("2 key")]
    assert any(o.rows_in == profile.scans["core.agg_product_buyer_daily"] for o in group_bys)
    text = markdown(settings, [profile])
    assert f"| int_product_window__w30 | table | {profile.build_s:.2f} |" in text
    assert "| HASH_GROUP_BY |" in text and "core.agg_product_buyer_daily" in text
    # without --model: the slowest models of the run, slowest first
    assert len(slowest_models(settings, 3)) == 3
    with pytest.raises(KeyError, match="no model named 'nope'"):
        profile_model(settings, "nope")


# --- the allocation check on synthetic published rows -------------------------------------------------

BUDGETS = {"solo": 1000, "duo": 101}
PARTS = [("duo", 1, "shop", 0.7, 0.5), ("duo", 2, "creator", 0.3, 0.5), ("solo", 1, "product", 1.0, 0.3)]


def _allocation(home: Path, rows: list[tuple[str, str, int]]) -> Settings:
    folder = home / "exports" / "flow_allocation_daily" / f"ds={DS}"
    folder.mkdir(parents=True)
    pools, kinds, impressions = zip(*rows, strict=True)
    table = pa.table(
        {"pool_id": pools, "recipient_type": kinds, "impressions": pa.array(impressions, pa.int64())}
    )
    pq.write_table(table, folder / "part-0.parquet")
    return Settings(home=home)


GOOD = [
    # duo: shops get floor(0.7 × 101) = 70 (cap floor(0.5 × 70) = 35), creators the rest 31 (cap 15)
    ("duo", "shop", 35),
    ("duo", "shop", 35),
    ("duo", "creator", 15),
    ("duo", "creator", 15),
    ("duo", "reserve", 1),
    # solo: cap floor(0.3 × 1000) = 300
    ("solo", "product", 300),
    ("solo", "product", 300),
    ("solo", "product", 300),
    ("solo", "reserve", 100),
]


def test_allocation_check_passes_an_exact_allocation(tmp_path):
    checks = verify_allocation(_allocation(tmp_path, GOOD), DS, BUDGETS, PARTS)
    assert len(checks) == 5 and all(c.ok for c in checks), checks


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        (
            {5: ("solo", "product", 299)},
            "flow solo: Σ impressions (reserve included) = budget, reserve row present",
        ),
        ({4: ("duo", "shop", 1)}, "flow duo: Σ impressions (reserve included) = budget, reserve row present"),
        (
            {0: ("duo", "shop", 36), 1: ("duo", "shop", 34)},
            "flow duo/shop: no recipient above floor(cap × part budget)",
        ),
        (
            {2: ("duo", "creator", 16), 3: ("duo", "creator", 14)},
            "flow duo/creator: no recipient above floor(cap × part budget)",
        ),
    ],
)
def test_allocation_check_fails_a_wrong_allocation(tmp_path, change, failing):
    rows = [change.get(i, row) for i, row in enumerate(GOOD)]
    checks = verify_allocation(_allocation(tmp_path, rows), DS, BUDGETS, PARTS)
    assert [c.name for c in checks if not c.ok] == [failing]


# --- small pieces ------------------------------------------------------------------------------------


def test_cpu_steal_is_the_stolen_share_of_all_cpu_time_between_two_readings():
    before = "cpu  100 5 50 800 10 0 5 30 0 0\ncpu0 50 2 25 400 5 0 2 15 0 0\nintr 1\n"
    after = "cpu  160 5 70 900 10 0 5 80 0 0\ncpu0 80 2 35 450 5 0 2 40 0 0\nintr 2\n"
    assert cpu_ticks(before) == (30, 1000) and cpu_ticks(after) == (80, 1230)
    assert steal_percent(cpu_ticks(before), cpu_ticks(after)) == round(100 * 50 / 230, 1) == 21.7
    # an old kernel's short line (no steal column), no reading, no time passed
    assert cpu_ticks("cpu  1 2 3 4\n") == (0, 10)
    assert steal_percent(None, (1, 2)) is None and steal_percent((5, 9), (5, 9)) is None


def test_landing_records_counts_data_lines(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"h1,h2\n1,2\n3,4\n")
    (tmp_path / "b.csv").write_bytes(b"h1,h2\n1,2\n3,4")  # no newline at the end
    (tmp_path / "c.csv").write_bytes(b"h1,h2\n")
    assert [landing_records(tmp_path / n) for n in ("a.csv", "b.csv", "c.csv")] == [2, 2, 0]


def test_union_of_node_spans_counts_overlaps_once():
    assert union_seconds([(0.0, 2.0), (1.0, 3.0), (5.0, 6.0), (5.5, 5.7)]) == pytest.approx(4.0)
    assert union_seconds([]) == 0.0


def test_dbt_nodes_are_grouped_by_folder_and_kind():
    assert (
        dbt_group(
            "model.trust_dw.fct_orders",
            {"resource_type": "model", "original_file_path": "models/core/fct_orders.sql"},
        )
        == "dbt core"
    )
    assert (
        dbt_group(
            "model.trust_dw.x", {"resource_type": "model", "original_file_path": "models/marts/scores/x.sql"}
        )
        == "dbt marts/scores"
    )
    assert dbt_group("test.trust_dw.unique_x", {"resource_type": "test"}) == "dbt data tests"
    assert dbt_group("seed.trust_dw.flow_pools", {"resource_type": "seed"}) == "dbt seeds"


def _record(ds: str, index: int, wall: float, gate: float, rss: float):
    from trust_dw.bench.day import DayRecord

    return DayRecord(
        ds=ds,
        day_index=index,
        ok=True,
        wall_s=wall,
        cpu_s=wall,
        peak_rss_mib=rss,
        spill_mib=0.0,
        stages=[],
        totals={"ingest": 1.0, "dbt": wall - gate - 2.0, "gate": gate, "publish": 1.0},
        rows={},
        published={},
    )


def test_figures_and_targets_of_medium():
    records = {
        "2026-01-01": _record("2026-01-01", 1, 40.0, 4.0, 1000.0),
        "2026-01-02": _record("2026-01-02", 2, 40.0, 4.0, 1000.0),
        "2026-01-31": _record("2026-01-31", 31, 56.0, 14.0, 4000.0),
    }
    figs = figures(records, {"2026-01-31": {"wall_s": 20.0}}, "medium")
    assert figs["last_over_day2"] == 1.4 and figs["pipeline_over_floor"] == 2.8 and figs["gate_share"] == 0.25
    assert figs["peak_rss_gb"] == 4.19  # 4000 MiB in GB (10⁹ bytes)
    met = {t["key"]: t["met"] for t in target_results("medium", figs)}
    assert met == {
        "last_day_wall_s": True,
        "pipeline_over_floor": True,
        "peak_rss_gb": False,
        "last_over_day2": False,
        "gate_share": False,
    }


def test_a_child_process_reports_its_own_peak_rss_not_its_parents():
    # Each bench day runs in a child process. ru_maxrss survives execve, and subprocess starts the
    # child with vfork, so a child of a parent that peaked high (the generator: ~6.9 GB at large) read
    # its parent's peak as its own. The day's peak is the child's own VmHWM.
    import subprocess
    import sys

    ballast = bytearray(600 * 1024 * 1024)  # the parent's RSS: ~600 MiB, touched
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    code = "from trust_dw.bench.measure import own_peak_rss_kib; print(own_peak_rss_kib())"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    child_kib = int(child.stdout)
    del ballast
    assert 10 * 1024 < child_kib < 300 * 1024
