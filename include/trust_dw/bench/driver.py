"""The benchmark driver: landing data, the days in order (one child process each), floor, Airflow, results."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from trust_dw.bench.day import DayRecord, force_reload
from trust_dw.bench.floor import run_floor
from trust_dw.bench.measure import BENCH_DIR, process_rss_kib, say
from trust_dw.bench.report import results_document, write_results
from trust_dw.config import REPO_ROOT, Settings

DEFAULT_START = "2026-01-01"


DEFAULT_SEED = 42


RESULTS_DIR = REPO_ROOT / "bench" / "results"


TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "GX_ANALYTICS_ENABLED": "False",
    "SCARF_ANALYTICS": "false",
}


def default_home(scale: str) -> Path:
    root = os.environ.get("TRUST_DW_BENCH_HOME") or "/tmp/trust_dw_bench/pipeline"
    return Path(root) / scale


def day_list(start: str, days: int) -> list[str]:
    first = date.fromisoformat(start)
    return [(first + timedelta(days=i)).isoformat() for i in range(days)]


@dataclass
class BenchConfig:
    scale: str
    days: int
    start: str = DEFAULT_START
    seed: int = DEFAULT_SEED
    home: Path | None = None
    memory_limit: str | None = None
    threads: int | None = None
    airflow: bool = False
    max_rss_gb: float = 16.0  # the watchdog's limit per day's process
    fresh: bool = False
    results_dir: Path = RESULTS_DIR
    name: str | None = None  # results file stem (default: the scale)

    @property
    def bench_home(self) -> Path:
        return (self.home or default_home(self.scale)).resolve()

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(TELEMETRY_OFF)
        env["TRUST_DW_HOME"] = str(self.bench_home)
        env.pop("TRUST_DW_WAREHOUSE", None)  # the bench's working file lives in its own home
        if self.memory_limit:
            env["TRUST_DW_MEMORY_LIMIT"] = self.memory_limit
        if self.threads:
            env["TRUST_DW_THREADS"] = str(self.threads)
        return env

    def settings(self) -> Settings:
        env, saved = self.env(), dict(os.environ)
        try:
            os.environ.clear()
            os.environ.update(env)
            return Settings.from_env()
        finally:
            os.environ.clear()
            os.environ.update(saved)


def ensure_landing(config: BenchConfig, settings: Settings) -> dict[str, Any]:
    """Generate the landing files unless every day is there from the same (scale, seed, start)."""
    from trust_dw.feeds import FEED_NAMES
    from trust_dw.generate import generate

    wanted = {"scale": config.scale, "seed": config.seed, "start": config.start}

    def ready(ds: str) -> bool:
        manifest = settings.landing_dir / "_faults" / f"ds={ds}.json"
        if not manifest.is_file():
            return False
        doc = json.loads(manifest.read_text(encoding="utf-8"))
        if any(doc.get(k) != v for k, v in wanted.items()) or doc.get("faults"):
            return False
        return all((settings.feed_ds_dir(f, ds) / "_SUCCESS").is_file() for f in FEED_NAMES)

    days = day_list(config.start, config.days)
    if all(ready(ds) for ds in days):
        return {"generated": False, "seconds": 0.0}
    say(f"generating {config.scale} × {config.days} days from {config.start} under {settings.landing_dir} …")
    started = time.perf_counter()
    generate(settings, config.scale, config.start, config.days, config.seed)
    seconds = round(time.perf_counter() - started, 1)
    say(f"  generated in {seconds:.0f} s")
    return {"generated": True, "seconds": seconds}


def _records_dir(settings: Settings) -> Path:
    return settings.home / BENCH_DIR / "days"


def _record_path(settings: Settings, ds: str) -> Path:
    return _records_dir(settings) / f"ds={ds}.json"


def _run_child(config: BenchConfig, settings: Settings, ds: str, index: int, rerun: bool) -> DayRecord:
    """Run one ds in a fresh Python process (its own memory peak); returns its record.

    A watchdog kills the child if its RSS passes ``config.max_rss_gb`` (the machine is shared: an ingest
    that would need more memory than the box has must fail alone, not take other processes with it). A
    child that dies without writing its record gets a failed record saying why.
    """
    out = _record_path(settings, ds)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    log_dir = settings.home / BENCH_DIR / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"day-{ds}.log"
    command = [sys.executable, "-m", "trust_dw.bench", "day", "--ds", ds, "--index", str(index)]
    command += ["--out", str(out)] + (["--rerun"] if rerun else [])
    started, killed, peak_kib = time.perf_counter(), None, 0
    limit_kib = int(config.max_rss_gb * 1e9 / 1024)
    with log.open("w", encoding="utf-8") as f:
        child = subprocess.Popen(command, env=config.env(), stdout=f, stderr=subprocess.STDOUT)
        while child.poll() is None:
            peak_kib = max(peak_kib, process_rss_kib(child.pid))
            if peak_kib > limit_kib and killed is None:
                killed = f"killed by the bench: RSS {peak_kib * 1024 / 1e9:.1f} GB > {config.max_rss_gb} GB"
                child.kill()
            time.sleep(0.5)
    if out.exists() and killed is None:
        return DayRecord.from_json(json.loads(out.read_text(encoding="utf-8")))
    reason = killed or f"the run died (exit {child.returncode}) without a record"
    return DayRecord(
        ds=ds,
        day_index=index,
        ok=False,
        wall_s=round(time.perf_counter() - started, 3),
        cpu_s=0.0,
        peak_rss_mib=round(peak_kib / 1024, 1),
        spill_mib=0.0,
        stages=[],
        totals={},
        rows={},
        published={},
        rerun=rerun,
        load_avg=(round(os.getloadavg()[0], 2), round(os.getloadavg()[0], 2)),
        error=f"{reason}; see {log}",
    )


def _day_line(record: DayRecord) -> str:
    parts = " ".join(f"{k} {v:.1f}s" for k, v in record.totals.items())
    state = "verified" if record.verified else ("FAILED" if not record.ok else "NOT VERIFIED")
    return (
        f"  ds={record.ds} (day {record.day_index}{', rerun' if record.rerun else ''}): "
        f"{record.wall_s:.1f} s "
        f"[{parts}] peak RSS {record.peak_rss_mib:,.0f} MiB, spill {record.spill_mib:,.0f} MiB, "
        f"load {record.load_avg[0]:.1f}"
        + ("" if record.cpu_steal_pct is None else f", steal {record.cpu_steal_pct:.0f} %")
        + f" — {state}"
    )


def airflow_overhead(config: BenchConfig, settings: Settings, ds: str, index: int) -> dict[str, Any]:
    """The last ds again in-process, then through ``airflow dags test``; both reload the ingest."""
    from trust_dw.airflow_local import LocalAirflow

    force_reload(settings, ds)
    in_process = _run_child(config, settings, ds, index, rerun=True)
    say(_day_line(in_process))
    local = LocalAirflow(settings, extra_env=config.env())
    started = time.perf_counter()
    local.init()
    init_s = time.perf_counter() - started
    force_reload(settings, ds)
    outcome = local.run_dag(ds)
    durations = _task_durations(local, outcome.run_id) if outcome.run_id else {}
    result = {
        "ds": ds,
        "in_process_s": in_process.wall_s,
        "in_process_totals": in_process.totals,
        "airflow_dags_test_s": round(outcome.seconds, 3),
        "airflow_state": outcome.state,
        "airflow_ok": outcome.ok,
        "overhead_s": round(outcome.seconds - in_process.wall_s, 3),
        "airflow_init_s_not_counted": round(init_s, 1),
        "task_seconds": durations,
        "log": str(outcome.log_path),
    }
    say(
        f"  airflow dags test: {outcome.seconds:.1f} s ({outcome.state}) "
        f"vs in-process {in_process.wall_s:.1f} s "
        f"→ overhead {result['overhead_s']:.1f} s"
    )
    return result


def _task_durations(local: Any, run_id: str) -> dict[str, float]:
    import sqlite3

    from trust_dw.airflow_local import DAG_ID

    with sqlite3.connect(f"file:{local.db_path}?mode=ro", uri=True) as con:
        rows = con.execute(
            "select task_id, duration from task_instance where dag_id = ? and run_id = ?",
            (DAG_ID, run_id),
        ).fetchall()
    return {task: round(float(d or 0.0), 2) for task, d in sorted(rows)}


def run_bench(config: BenchConfig) -> dict[str, Any]:
    """The whole benchmark; returns the results document (also written to ``results_dir``)."""
    # Settings.warehouse_path follows TRUST_DW_WAREHOUSE: the bench's working file is in its own home.
    saved = os.environ.pop("TRUST_DW_WAREHOUSE", None)
    try:
        return _run_bench(config)
    finally:
        if saved is not None:
            os.environ["TRUST_DW_WAREHOUSE"] = saved


def _run_bench(config: BenchConfig) -> dict[str, Any]:
    settings = config.settings()
    home = settings.home
    say(f"benchmark {config.scale}: {config.days} days from {config.start}, home {home}")
    if config.fresh:
        for sub in ("warehouse", "exports", "serving", "gx", "dbt", "tmp", BENCH_DIR, "airflow"):
            shutil.rmtree(home / sub, ignore_errors=True)
    settings.ensure_dirs()
    generation = ensure_landing(config, settings)
    days = day_list(config.start, config.days)
    records: dict[str, DayRecord] = {}
    measured: list[str] = []
    for index, ds in enumerate(days, start=1):
        path = _record_path(settings, ds)
        last = index == len(days)
        if path.exists() and not last:
            previous = DayRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
            if previous.ok:
                records[ds] = previous
                continue
        rerun = path.exists()
        if rerun:
            force_reload(settings, ds)
        record = _run_child(config, settings, ds, index, rerun)
        records[ds] = record
        measured.append(ds)
        say(_day_line(record))
        if not record.ok:
            say(f"  error: {record.error}")
            break
    floors = {}
    for ds in [d for d in measured if records[d].ok]:
        floors[ds] = run_floor(settings, ds, records[ds].rows.get("rows_published", 0))
        say(
            f"  floor ds={ds}: {floors[ds]['wall_s']:.2f} s "
            f"→ pipeline/floor {records[ds].wall_s / floors[ds]['wall_s']:.1f}"
        )
    airflow = None
    last = days[-1]
    if config.airflow and records.get(last) and records[last].ok:
        airflow = airflow_overhead(config, settings, last, len(days))
    doc = results_document(config, settings, records, measured, floors, airflow, generation)
    write_results(config, doc)
    return doc
