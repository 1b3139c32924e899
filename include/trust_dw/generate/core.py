"""``generate()``: write the landing files of a date range (DESIGN §3, §10), one ds at a time."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa

from trust_dw.config import Settings
from trust_dw.feeds import FEED_NAMES, FEEDS
from trust_dw.generate import activity, csvio, snapshots
from trust_dw.generate.csvio import CsvPart
from trust_dw.generate.faults import DRIFT_ORDERS, FAULT_KINDS, FaultInjector, drop_table
from trust_dw.generate.orders import OrderBook, OrderDrop
from trust_dw.generate.scales import SCALES
from trust_dw.generate.world import World, build_world

PART_NAME = "part-00000.csv"
ORDER_CHUNK_ROWS = 1_000_000
_EPOCH = date(1970, 1, 1)


@dataclass
class GenerateSummary:
    scale: str
    start: str
    days: int
    seed: int
    faults: tuple[str, ...]
    landing_dir: Path
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # ds -> feed -> data rows written
    injected: dict[str, dict[str, int]] = field(default_factory=dict)  # ds -> fault kind -> count
    manifests: list[Path] = field(default_factory=list)

    def total_rows(self, feed: str) -> int:
        return sum(per.get(feed, 0) for per in self.rows.values())


def parse_faults(faults: str | Iterable[str] | None) -> tuple[str, ...]:
    """'duplicates,late' or an iterable of kinds → a validated tuple, in FAULT_KINDS order."""
    if faults is None:
        return ()
    items = [f.strip() for f in (faults.split(",") if isinstance(faults, str) else faults) if f.strip()]
    unknown = sorted(set(items) - set(FAULT_KINDS))
    if unknown:
        raise ValueError(f"unknown fault kind(s) {', '.join(unknown)}; choose from {', '.join(FAULT_KINDS)}")
    return tuple(k for k in FAULT_KINDS if k in items)


def to_day(d: date | str) -> int:
    if isinstance(d, str):
        d = date.fromisoformat(d)
    return (d - _EPOCH).days


def _fresh_dir(path: Path) -> None:
    """A ds folder is rewritten whole: not ready (no _SUCCESS) until its new file is in place."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def _write(path: Path, table: pa.Table, feed: str, injector: FaultInjector) -> CsvPart:
    """One feed's file of the day: the clean rows, then any injected rows."""
    clean = table.num_rows
    table = injector.add_drift(feed, table)
    part = CsvPart(path, table.column_names)
    part.write_table(table)
    injector.malformed(feed, part, clean, lambda positions: table.take(positions))
    part.close()
    injector.note_drift(feed, part)
    injector.note_file(feed, part, clean)
    return part


def _write_orders(path: Path, drop: OrderDrop, book: OrderBook, injector: FaultInjector) -> CsvPart:
    """The orders CDC drop, formatted and written chunk by chunk (memory stays flat at `large`)."""
    drift = injector.drift_values("orders", drop.n)
    header = FEEDS["orders"].column_names + ([DRIFT_ORDERS] if drift is not None else [])
    part = CsvPart(path, header)
    for positions in drop.chunks(ORDER_CHUNK_ROWS):
        part.write_table(drop_table(drop, positions, drift))
    injector.orders_extras(part, drop, book, drift)
    injector.malformed("orders", part, drop.n, lambda positions: drop_table(drop, positions, drift))
    part.close()
    injector.note_drift("orders", part)
    injector.note_file("orders", part, drop.n)
    return part


def generate_day(
    world: World, book: OrderBook, day: int, settings: Settings, faults: tuple[str, ...]
) -> FaultInjector:
    """Write every feed's file of one ds, then its _SUCCESS markers and the fault manifest."""
    ds = csvio.day_str(day)
    landing = settings.landing_dir
    injector = FaultInjector(faults, world.seed, day, landing)
    folders = {feed: settings.feed_ds_dir(feed, ds) for feed in FEED_NAMES}
    for folder in folders.values():
        _fresh_dir(folder)

    book.advance_to(day)
    _write_orders(folders["orders"] / PART_NAME, book.drop(day), book, injector)
    paid_today = book.cohorts[day]
    _write(
        folders["content_metrics"] / PART_NAME,
        activity.content_metrics(world, day, paid_today),
        "content_metrics",
        injector,
    )
    _write(folders["violations"] / PART_NAME, activity.violations(world, day), "violations", injector)
    for feed, build in snapshots.SNAPSHOTS.items():
        _write(folders[feed] / PART_NAME, build(world, day), feed, injector)

    assert set(folders) == set(FEEDS)
    for folder in folders.values():
        (folder / "_SUCCESS").touch()
    return injector


def generate(
    settings: Settings,
    scale: str,
    start: date | str,
    days: int,
    seed: int,
    faults: str | Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> GenerateSummary:
    """Write ``days`` days of landing files from ``start`` for every feed; returns what was written.

    Deterministic: the same (scale, start, seed, faults) gives byte-identical files, and day D's files do
    not depend on ``days`` (a longer run has the shorter one as its prefix).
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose from {', '.join(SCALES)}")
    if days < 1:
        raise ValueError(f"days must be ≥ 1, got {days}")
    kinds = parse_faults(faults)
    start_day = to_day(start)
    settings.landing_dir.mkdir(parents=True, exist_ok=True)
    world = build_world(SCALES[scale], seed, start_day)
    book = OrderBook(world)
    summary = GenerateSummary(scale, csvio.day_str(start_day), days, seed, kinds, settings.landing_dir)
    header = {"scale": scale, "seed": seed, "start": summary.start}
    for day in range(start_day, start_day + days):
        ds = csvio.day_str(day)
        injector = generate_day(world, book, day, settings, kinds)
        summary.rows[ds] = {info["feed"]: info["rows"] for info in injector.record.files.values()}
        summary.injected[ds] = injector.record.counts()
        summary.manifests.append(injector.record.write(settings.landing_dir, header))
        if progress is not None:
            progress(ds)
    return summary
