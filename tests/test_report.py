"""The daily HTML report over synthetic published snapshots: its figures, its determinism, a screenshot."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from datetime import date
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from synthetic_exports import LATEST_DS, POOL_BUDGET, write_tiny_exports
from trust_dw.config import Settings
from trust_dw.quality import CheckOutcome, GateResult, data_docs_index, gate_record_path
from trust_dw.report import gini, lorenz, report_path, write_report

DS = LATEST_DS
XSS = "<script>x</script>"
GATE_CHECKS = [
    {"name": "shop_scores_daily.keys_unique", "severity": "blocking", "success": True, "detail": ""},
    {"name": "product_tiers_daily.l5_share", "severity": "blocking", "success": True, "detail": ""},
    {"name": "flow_allocation_daily.budget", "severity": "blocking", "success": True, "detail": ""},
    {"name": "shop_scores_daily.row_count", "severity": "warning", "success": False, "detail": "observed 6"},
]


class Page(HTMLParser):
    """Tables by their data-figure (rows of cell texts), SVG count, section ids and all text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.figures: dict[str, str] = {}
        self.svgs = 0
        self.sections: list[str] = []
        self.text: list[str] = []
        self._table: str | None = None
        self._figure: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg":
            self.svgs += 1
        elif tag == "section":
            self.sections.append(a.get("id") or "")
        elif tag == "table":
            self._table = a.get("data-figure")
            self.tables[self._table or ""] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif a.get("data-figure"):
            self._figure = a["data-figure"]
            self.figures[self._figure] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "p":
            self._figure = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._figure is not None:
            self.figures[self._figure] += data

    def counts(self, figure: str) -> dict[str, str]:
        """First column → second column of a count table (header row skipped)."""
        return {row[0]: row[1] for row in self.tables[figure][1:]}


def write_gate_record(settings: Settings, ds: date, checks: list[dict]) -> None:
    """A gate verdict as trust_dw.quality.validate leaves it in gx/gate/ds=D.json."""
    outcomes = [CheckOutcome(**c) for c in checks]
    failed = [c.name for c in outcomes if not c.success and c.severity == "blocking"]
    result = GateResult(
        ds=ds.isoformat(),
        passed=not failed,
        failed=failed,
        warnings=[c.name for c in outcomes if not c.success and c.severity == "warning"],
        data_docs=data_docs_index(settings),
        results_dir=settings.gx_dir / "uncommitted" / "validations",
        checks=outcomes,
        validated_at=f"{ds.isoformat()}T18:00:00+00:00",
        seconds=4.25,
    )
    path = gate_record_path(settings, ds.isoformat())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_json()))


def write_working_file(settings: Settings) -> None:
    """The ingest ledger (columns of docs/ARCHITECTURE.md) and an ops stage-timing table."""
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse_path))
    con.execute("create schema ingest; create schema ops")
    con.execute(
        """
        create table ingest.load_ledger as select * from (values
            ('orders', date '2026-01-03', 'loaded', 2, 2000, 1990, 10, 0.005, null, null, now()),
            ('shops', date '2026-01-03', 'loaded', 1, 200, 200, 0, 0.0, null, null, now()),
            ('orders', date '2026-01-02', 'loaded', 2, 1800, 1800, 0, 0.0, null, null, now())
        ) t(feed, ds, status, files, rows_read, rows_loaded, rows_quarantined, quarantine_share,
            drift_columns, message, loaded_at)
        """
    )
    con.execute(
        """
        create table ops.stage_runs as select * from (values
            (date '2026-01-03', 'ingest', 12.5), (date '2026-01-03', 'dbt_build', 95.25),
            (date '2026-01-02', 'ingest', 11.0)
        ) t(ds, stage, seconds)
        """
    )
    con.close()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("report") / "dw"


@pytest.fixture(scope="module")
def report_settings(home: Path) -> Settings:
    s = Settings(home=home)
    write_tiny_exports(s.exports_dir)
    write_gate_record(s, DS, GATE_CHECKS)
    write_working_file(s)
    return s


@pytest.fixture(scope="module")
def page(report_settings: Settings) -> Page:
    path = write_report(report_settings, DS)
    assert path == report_settings.exports_dir / "_reports" / "ds=2026-01-03" / "report.html"
    return Page(path.read_text(encoding="utf-8"))


def test_report_shows_tier_and_grade_counts(page: Page) -> None:
    assert page.counts("product_tiers_daily.tier") == {
        "L0": "1",
        "L1": "1",
        "L2": "1",
        "L3": "2",
        "L4": "1",
        "L5": "2",
        "total": "8",
    }
    assert page.counts("product_tiers_daily.gate_reason") == {"banned": "1", "total": "1"}
    grades = page.counts("shop_scores_daily.grade")
    assert grades == {"excellent": "1", "good": "2", "fair": "2", "poor": "1", "total": "6"}
    assert page.tables["shop_scores_daily.grade"][2] == ["good", "2", "33.3%"]
    assert page.counts("shop_scores_daily.score_status") == {"scored": "5", "provisional": "1", "total": "6"}
    assert page.counts("provider_tiers_daily.tier") == {"S": "1", "A": "0", "B": "1", "C": "1", "total": "3"}
    assert page.counts("creator_scores_daily.score_status")["provisional"] == "1"


def test_report_histograms_have_the_scores(page: Page) -> None:
    # shops 92.5, 77.5, 81, 65, 40, 55 → mean 68.5
    assert "mean 68.5" in page.figures["shop_scores_daily.experience_score.summary"]
    assert "no score (NULL): 0" in page.figures["shop_scores_daily.experience_score.summary"]
    # creators 88, 72.25, 35.5, 61 → mean 64.19 (rounded)
    assert "mean 64.19" in page.figures["creator_scores_daily.reputation_score.summary"]
    text = "".join(page.text)
    # Each bar carries a <title> "bin: count": products 90–100 holds P007 (90.0) and P008 (95.5).
    assert "90–100: 2" in text
    # 3 + 1 + 2 + 2 distributions, 4 histograms, 4 Lorenz curves (one per pool part)
    assert page.svgs == 8 + 4 + 4


def test_report_allocation_concentration(page: Page) -> None:
    rows = {(r[0], r[1]): r for r in page.tables["flow.pools"][1:]}
    creators = rows[("chuanliu", "creator")]
    # impressions 2,465,753 and 1,000,000: Gini = |a − b| / (2 · (a + b)) for two recipients
    expected_gini = Fraction(2_465_753 - 1_000_000, 2 * (2_465_753 + 1_000_000))
    assert creators[2:] == ["2", "3,465,753", "2.11%", "1", "100.00%", f"{float(expected_gini):.4f}"]
    assert rows[("chuanliu", "shop")][-1] == "0.0000"  # three equal capped shops
    for pool, budget in POOL_BUDGET.items():
        assert rows[(pool, "budget")][3] == f"{budget:,}"
    assert rows[("chuanliu", "reserve")][3] == "143,657,536"


def test_report_quality_ingest_and_timings(page: Page) -> None:
    assert "PASSED" in page.figures["gate.verdict"]
    assert page.tables["gate.counts"][1] == ["4", "3", "0", "1"]
    assert page.tables["gate.failures"][1] == ["shop_scores_daily.row_count", "warning", "observed 6"]
    ingest = {r[0]: r for r in page.tables["ingest"][1:]}
    assert set(ingest) == {"orders", "shops"}  # only ds=2026-01-03
    assert ingest["orders"][3:] == ["2,000", "1,990", "10", "0.50%"]
    timings = page.tables["timings"]
    assert timings[0] == ["source", "stage", "seconds"]
    assert timings[1:] == [["ops.stage_runs", "dbt_build", "95.25"], ["ops.stage_runs", "ingest", "12.50"]]


def test_report_is_deterministic_and_written_atomically(report_settings: Settings, page: Page) -> None:
    path = report_path(report_settings, DS)
    first = path.read_bytes()
    write_report(report_settings, DS)
    assert path.read_bytes() == first
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # no temp file left behind


def test_failed_gate_missing_table_and_busy_working_file(tmp_path: Path) -> None:
    s = Settings(home=tmp_path / "dw")
    write_tiny_exports(s.exports_dir)
    shutil.rmtree(s.exports_dir / "provider_tiers_daily" / "ds=2026-01-02")
    checks = [
        {
            "name": "flow_allocation_daily.budget",
            "severity": "blocking",
            "success": False,
            "detail": "<script>x</script>",
        },
        {"name": "shop_scores_daily.keys_unique", "severity": "blocking", "success": True, "detail": ""},
    ]
    write_gate_record(s, date(2026, 1, 2), checks)
    write_working_file(s)
    writer = duckdb.connect(str(s.warehouse_path))  # a writer holds the working file
    try:
        html = write_report(s, date(2026, 1, 2)).read_text(encoding="utf-8")
    finally:
        writer.close()
    page = Page(html)
    assert "FAILED" in page.figures["gate.verdict"]
    assert page.tables["gate.failures"][1] == [
        "flow_allocation_daily.budget",
        "blocking",
        "<script>x</script>",
    ]
    assert "<script>" not in html  # escaped
    published = {r[0]: r for r in page.tables["published"][1:]}
    assert published["provider_tiers_daily"][1] == "not published for this ds"
    assert "provider_tiers_daily.tier" not in page.tables
    assert "working file not readable now" in "".join(page.text)
    assert "ingest" not in page.tables


def test_report_command_writes_the_page(report_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from trust_dw.cli import app
    from typer.testing import CliRunner

    monkeypatch.setenv("TRUST_DW_HOME", str(report_settings.home))
    out = report_settings.home / "elsewhere.html"
    done = CliRunner().invoke(app, ["report", "--ds", "2026-01-03", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "report for ds=2026-01-03" in done.output
    assert Page(out.read_text()).counts("product_tiers_daily.tier")["L5"] == "2"
    bad = CliRunner().invoke(app, ["report", "--ds", "2026-13-40"])
    assert bad.exit_code == 2
    assert "2026-13-40" in bad.output


# --- the concentration arithmetic --------------------------------------------------------------------
def test_gini_known_values() -> None:
    assert gini([]) == 0
    assert gini([5, 5, 5, 5]) == 0
    assert gini([0, 0, 0, 10]) == Fraction(3, 4)  # all to one of n: (n − 1) / n
    assert gini([1, 2, 3]) == Fraction(2, 9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=40))
def test_gini_is_the_mean_absolute_difference_and_lorenz_is_a_curve(values: list[int]) -> None:
    n, total = len(values), sum(values)
    if total:
        mad = Fraction(sum(abs(a - b) for a in values for b in values), 2 * n * total)
        assert gini(values) == mad
    points = lorenz(values)
    assert points[0] == (0.0, 0.0) and points[-1] == (1.0, 1.0)
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(points, points[1:], strict=False))
    assert all(y <= x + 1e-12 for x, y in points)  # below the diagonal


# --- what a person sees ----------------------------------------------------------------------------
def _png_size_and_colours(png: bytes) -> tuple[int, int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    pos, idat = 8, b""
    while pos < len(png):
        length = struct.unpack(">I", png[pos : pos + 4])[0]
        kind = png[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
def test_screenshot_of_the_report_is_not_blank(report_settings: Settings, page: Page, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1200,1600",
            f"--screenshot={shot}",
            report_path(report_settings, DS).as_uri(),
        ],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    png = shot.read_bytes()
    width, height, distinct_bytes = _png_size_and_colours(png)
    assert (width, height) == (1200, 1600)
    assert len(png) > 20_000  # a blank page compresses to a few kB
    assert distinct_bytes > 50
