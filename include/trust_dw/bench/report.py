"""The results document (``bench/results/<name>.json``), the targets of issue 7 and the Markdown tables."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trust_dw.bench.day import DayRecord
from trust_dw.bench.measure import machine, say
from trust_dw.config import Settings

if TYPE_CHECKING:
    from trust_dw.bench.driver import BenchConfig

# Targets of issue 7 (the product's; reported, never loosened). Scale → list of (key, text, limit).
TARGETS: dict[str, list[tuple[str, str, float]]] = {
    "medium": [
        ("last_day_wall_s", "day-31 run wall time ≤ 60 s", 60.0),
        ("pipeline_over_floor", "day-31 run ≤ 3 × the floor", 3.0),
        ("peak_rss_gb", "peak RSS of the run ≤ 4 GB (any day)", 4.0),
        ("last_over_day2", "day-31 run ≤ 1.3 × the day-2 run (history independence)", 1.3),
        ("gate_share", "gate (Great Expectations) ≤ 15 % of the day's run", 0.15),
    ],
    "large": [
        ("max_day_wall_s", "each day's run ≤ 5 min", 300.0),
        ("peak_rss_gb", "memory_limit 4 GB: completes by spilling, peak RSS ≤ 6 GB", 6.0),
    ],
}


def _gb(mib: float) -> float:
    """MiB → GB (10⁹ bytes, as the targets are written: the stricter reading)."""
    return mib * 1024 * 1024 / 1e9


def figures(records: dict[str, DayRecord], floors: dict[str, dict], scale: str) -> dict[str, float | None]:
    """The headline figures the targets are stated in."""
    ordered = [records[d] for d in sorted(records)]
    last = ordered[-1] if ordered else None
    day2 = next((r for r in ordered if r.day_index == 2), None)
    floor = floors.get(last.ds) if last else None
    out: dict[str, float | None] = {
        "last_day": last.day_index if last else None,
        "last_day_wall_s": last.wall_s if last else None,
        "day2_wall_s": day2.wall_s if day2 else None,
        "last_over_day2": round(last.wall_s / day2.wall_s, 2) if last and day2 and day2 is not last else None,
        "floor_s": floor["wall_s"] if floor else None,
        "pipeline_over_floor": round(last.wall_s / floor["wall_s"], 2) if last and floor else None,
        "gate_share": round(last.totals.get("gate", 0.0) / last.wall_s, 3) if last and last.wall_s else None,
        "peak_rss_gb": round(_gb(max(r.peak_rss_mib for r in ordered)), 2) if ordered else None,
        "last_day_peak_rss_gb": round(_gb(last.peak_rss_mib), 2) if last else None,
        "max_day_wall_s": max(r.wall_s for r in ordered) if ordered else None,
        "max_spill_gb": round(_gb(max(r.spill_mib for r in ordered)), 2) if ordered else None,
    }
    return out


def target_results(scale: str, figs: dict[str, float | None]) -> list[dict[str, Any]]:
    out = []
    for key, text, limit in TARGETS.get(scale, []):
        value = figs.get(key)
        out.append(
            {
                "target": text,
                "key": key,
                "limit": limit,
                "measured": value,
                "met": None if value is None else value <= limit,
            }
        )
    return out


def results_document(
    config: BenchConfig,
    settings: Settings,
    records: dict[str, DayRecord],
    measured: list[str],
    floors: dict[str, dict],
    airflow: dict | None,
    generation: dict,
) -> dict[str, Any]:
    figs = figures(records, floors, config.scale)
    ok = bool(records) and all(r.ok for r in records.values()) and len(records) == config.days
    verified = ok and all(records[d].verified for d in measured)
    return {
        "scale": config.scale,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {
            "days": config.days,
            "start": config.start,
            "seed": config.seed,
            "memory_limit": settings.memory_limit,
            "duckdb_threads": settings.threads,
            "dbt_threads": os.environ.get("TRUST_DW_DBT_THREADS", str(min(settings.threads, 2))),
            "home": str(settings.home),
        },
        "machine": machine(),
        "generation": generation,
        "ok": ok,
        "verified": verified,
        "measured_days": measured,
        "figures": figs,
        "targets": target_results(config.scale, figs),
        "floors": floors,
        "airflow": airflow,
        "days": [records[d].to_json() for d in sorted(records)],
    }


def fmt(value: Any, digits: int = 1) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown(doc: dict[str, Any]) -> str:
    """The results as Markdown tables (committed next to the JSON)."""
    m, cfg = doc["machine"], doc["config"]
    days = [DayRecord.from_json(d) for d in doc["days"]]
    by_ds = {d.ds: d for d in days}
    lines = [
        f"# Benchmark `{doc['scale']}` — {doc['created_at']}",
        "",
        f"- machine: {m.get('usable_cores')} cores ({m.get('cpu', '?')}), "
        f"{m.get('memory_gib', '?')} GiB RAM, "
        f"{m.get('platform')}; Python {m.get('python')}; "
        + ", ".join(f"{k} {v}" for k, v in (m.get("packages") or {}).items()),
        f"- code: commit `{m.get('commit')}`; config: {cfg['days']} days from {cfg['start']} "
        f"(seed {cfg['seed']}), "
        f"DuckDB memory_limit {cfg['memory_limit']}, DuckDB threads {cfg['duckdb_threads']}, "
        f"dbt threads {cfg['dbt_threads']}",
        f"- outputs verified: **{'yes' if doc['verified'] else 'NO'}** (run ok: {doc['ok']}); "
        f"days measured in this invocation: {', '.join(doc['measured_days']) or 'none'}",
        "",
    ]
    if doc["targets"]:
        lines += ["## Targets", "", "| target | measured | met |", "|---|---:|:---:|"]
        for t in doc["targets"]:
            met = "" if t["met"] is None else ("yes" if t["met"] else "**no**")
            lines.append(f"| {t['target']} | {fmt(t['measured'], 2)} | {met} |")
        lines.append("")
    for ds in doc["measured_days"]:
        day = by_ds[ds]
        floor = doc["floors"].get(ds)
        lines += [
            f"## Day {day.day_index} (ds={ds}{', rerun' if day.rerun else ''})",
            "",
            f"Wall {day.wall_s:.1f} s, CPU {day.cpu_s:.1f} s, peak RSS {day.peak_rss_mib:,.0f} MiB, "
            f"DuckDB spill (peak sampled) {day.spill_mib:,.0f} MiB, load average {day.load_avg[0]:.1f} → "
            f"{day.load_avg[1]:.1f}"
            + ("" if day.cpu_steal_pct is None else f", CPU steal {day.cpu_steal_pct:.1f} %")
            + "."
            + (
                f" Floor {floor['wall_s']:.2f} s (read {floor['records_read']:,} landing records, wrote "
                f"{floor['rows_written']:,} rows) → "
                f"**pipeline / floor = {day.wall_s / floor['wall_s']:.1f}**."
                if floor
                else ""
            ),
            "",
            "| stage | wall s | CPU s | rows in | rows out | rows/s | peak RSS MiB | spill MiB | note |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for s in day.stages:
            indent = "&nbsp;&nbsp;" if s.name.startswith("dbt ") and s.name != "dbt build" else ""
            lines.append(
                f"| {indent}{s.name} | {s.wall_s:.2f} | {fmt(s.cpu_s, 2)} | {fmt(s.rows_in)} | "
                f"{fmt(s.rows_out)} | {fmt(None if s.rows_per_s is None else round(s.rows_per_s))} | "
                f"{fmt(s.peak_rss_mib, 0)} | {fmt(s.spill_mib, 0)} | {s.detail} |"
            )
        lines.append(
            f"| **total** | **{day.wall_s:.2f}** | {day.cpu_s:.2f} | | | | {day.peak_rss_mib:,.0f} | "
            f"{day.spill_mib:,.0f} | |"
        )
        lines.append("")
        if day.dbt_nodes:
            lines += ["Slowest dbt nodes:", "", "| node | type | group | s |", "|---|---|---|---:|"]
            lines += [
                f"| {n['node']} | {n['type']} | {n['group']} | {n['seconds']:.2f} |"
                for n in day.dbt_nodes[:12]
            ]
            lines.append("")
        if day.error:
            lines += [f"**Run failed:** {day.error}", ""]
        failed = [c for c in day.checks if not c.ok]
        lines.append(
            f"Verification: {len(day.checks) - len(failed)} of {len(day.checks)} checks passed"
            + ("." if not failed else ": FAILED " + "; ".join(f"{c.name} ({c.detail})" for c in failed))
        )
        lines.append("")
    lines += [
        "## Every day",
        "",
        "| day | ds | wall s | ingest | dbt | gate | publish | CPU s | peak RSS MiB | spill MiB "
        "| rows read | rows published | load avg | steal % | verified |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for d in days:
        t = d.totals
        lines.append(
            f"| {d.day_index} | {d.ds}{' (rerun)' if d.rerun else ''} | {d.wall_s:.1f} | "
            f"{fmt(t.get('ingest'))} | "
            f"{fmt(t.get('dbt'))} | {fmt(t.get('gate'))} | {fmt(t.get('publish'))} | {d.cpu_s:.1f} | "
            f"{d.peak_rss_mib:,.0f} | {d.spill_mib:,.0f} | {fmt(d.rows.get('rows_read'))} | "
            f"{fmt(d.rows.get('rows_published'))} | {d.load_avg[0]:.1f} | {fmt(d.cpu_steal_pct)} | "
            f"{'yes' if d.verified else 'no'} |"
        )
    lines.append("")
    if doc.get("airflow"):
        a = doc["airflow"]
        lines += [
            "## Airflow's own overhead",
            "",
            f"ds={a['ds']} run again in-process: {a['in_process_s']:.1f} s; through `airflow dags test`: "
            f"{a['airflow_dags_test_s']:.1f} s (state {a['airflow_state']}) → overhead "
            f"**{a['overhead_s']:.1f} s** (metadata DB init, {a['airflow_init_s_not_counted']:.0f} s, "
            "not counted).",
            "",
        ]
        if a.get("task_seconds"):
            lines += ["| task | s |", "|---|---:|"]
            lines += [f"| {task} | {s:.1f} |" for task, s in a["task_seconds"].items()]
            lines.append("")
    return "\n".join(lines)


def write_results(config: BenchConfig, doc: dict[str, Any]) -> tuple[Path, Path]:
    config.results_dir.mkdir(parents=True, exist_ok=True)
    stem = config.name or config.scale
    json_path = config.results_dir / f"{stem}.json"
    md_path = config.results_dir / f"{stem}.md"
    json_path.write_text(json.dumps(doc, indent=1, sort_keys=False, default=str) + "\n", encoding="utf-8")
    md_path.write_text(markdown(doc) + "\n", encoding="utf-8")
    say(f"results: {json_path} and {md_path}")
    return json_path, md_path
