"""Fault injection (``--faults``): known, counted faults and the manifest that lists them.

Every injected row is an EXTRA row appended after the clean rows of the day's file, so the clean rows
(and their line numbers) are the same with or without faults. The one exception is ``drift``: the
drifted file carries one extra column on every row (the values of the feed's own columns unchanged).
The manifest ``landing/_faults/ds=YYYY-MM-DD.json`` lists each fault with its file and line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from trust_dw.generate import csvio
from trust_dw.generate.csvio import CsvPart, day_start
from trust_dw.generate.orders import Cohort, OrderBook, OrderDrop, to_table
from trust_dw.generate.rng import FAULTS, stream
from trust_dw.generate.world import LIVE_DIST, VIDEO_DIST

FAULT_KINDS = ("duplicates", "late", "malformed", "drift", "orphans")
MAX_PER_KIND = 2_000  # keeps the manifest readable at large scale

# Row-level faults by feed: (reason_code, column, bad value). None as column = wrong field count.
MALFORMED: dict[str, list[tuple[str, str | None, str]]] = {
    "orders": [
        ("malformed_row", None, "drop_last_field"),
        ("missing_required", "buyer_id", ""),
        ("unparseable_value", "quantity", "two"),
        ("invalid_enum", "channel", "tv_shopping"),
        ("out_of_range", "quantity", "0"),
        ("future_timestamp", "paid_at", "+1d"),
        ("unparseable_value", "paid_at", "2026-13-45T25:61:00+08:00"),
        ("out_of_range", "pay_amount", "-5.00"),
        ("malformed_row", None, "extra_field"),
        ("unparseable_value", "is_fan_order", "maybe"),
    ],
    "shops": [("invalid_enum", "brand_level", "premium")],
    "products": [("out_of_range", "commission_rate", "0.95"), ("unparseable_value", "list_price", "free")],
    "creators": [("missing_required", "nickname", "")],
    "content_metrics": [
        ("out_of_range", "likes", "-3"),
        ("unparseable_value", "impressions", "1.5k"),
        ("malformed_row", None, "extra_field"),
    ],
}
# A fresh key per malformed row, so it never collides with a clean row's key.
KEY_COLUMN = {
    "orders": ("order_id", "OBAD"),
    "shops": ("shop_id", "SBAD"),
    "products": ("product_id", "PBAD"),
    "creators": ("creator_id", "CBAD"),
    "content_metrics": ("content_id", "CTBAD"),
}
# Schema drift: which feed gets which unknown column, rotating by day.
DRIFT_ORDERS = "coupon_code"
DRIFT = (("orders", DRIFT_ORDERS), ("products", "sku_count"), ("content_metrics", "device_type"))


def _ymd(day: int) -> str:
    return csvio.day_str(day).replace("-", "")


def _row(table: pa.Table, i: int) -> list[str | None]:
    """Row ``i`` as the text fields written to the file."""
    return list(csvio.as_text(table.slice(int(i), 1)).to_pylist()[0].values())


def drop_table(drop: OrderDrop, positions: np.ndarray, drift: pa.Array | None) -> pa.Table:
    """The drop's rows at ascending ``positions`` as written (with the drift column when there is one)."""
    state, updated = drop.rows(positions)
    table = to_table(state, updated)
    return table if drift is None else table.append_column(DRIFT_ORDERS, drift.take(positions))


@dataclass
class DayFaults:
    """What was injected into one ds (the manifest's content)."""

    ds: str
    kinds: tuple[str, ...]
    duplicates: list[dict] = field(default_factory=list)
    late: list[dict] = field(default_factory=list)
    malformed: list[dict] = field(default_factory=list)
    drift: list[dict] = field(default_factory=list)
    orphans: list[dict] = field(default_factory=list)
    files: dict[str, dict] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {k: len(getattr(self, k)) for k in FAULT_KINDS}

    def write(self, landing: Path, header: dict) -> Path:
        orphan_counts: dict[str, dict[str, int]] = {}
        for o in self.orphans:
            per = orphan_counts.setdefault(o["feed"], {})
            per[o["kind"]] = per.get(o["kind"], 0) + 1
        doc = {
            **header,
            "ds": self.ds,
            "faults": list(self.kinds),
            "counts": self.counts(),
            "orphan_counts": orphan_counts,
            "files": self.files,
            "duplicates": self.duplicates,
            "late": self.late,
            "malformed": self.malformed,
            "drift": self.drift,
            "orphans": self.orphans,
        }
        path = landing / "_faults" / f"ds={self.ds}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(
            json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8"
        )
        tmp.replace(path)
        return path


class FaultInjector:
    def __init__(self, kinds: tuple[str, ...], seed: int, day: int, landing: Path):
        self.kinds = kinds
        self.day = day
        self.landing = landing
        self.rng = stream(seed, FAULTS, day)
        self.record = DayFaults(csvio.day_str(day), kinds)

    def _rel(self, part: CsvPart) -> str:
        return part.path.relative_to(self.landing).as_posix()

    def _count(self, base: int, rows: int, per: int) -> int:
        return int(min(MAX_PER_KIND, base + rows // per))

    # --- drift ------------------------------------------------------------------------------------
    def drift_column(self, feed: str) -> str | None:
        if "drift" not in self.kinds:
            return None
        target, column = DRIFT[self.day % len(DRIFT)]
        return column if target == feed else None

    def drift_values(self, feed: str, n: int) -> pa.Array | None:
        """Values of the drifted column for ``n`` rows (None if this feed does not drift today)."""
        column = self.drift_column(feed)
        if column is None:
            return None
        values = csvio.labels(self.rng.integers(0, 3, n).astype(np.int8), ["ios", "android", "web"])
        if column == "sku_count":
            values = csvio.integers(self.rng.integers(1, 12, n))
        elif column == "coupon_code":
            values = csvio.ids("CP", self.rng.integers(0, 10**6, n), 6)
        return values

    def add_drift(self, feed: str, table: pa.Table) -> pa.Table:
        values = self.drift_values(feed, table.num_rows)
        return table if values is None else table.append_column(self.drift_column(feed), values)

    def note_drift(self, feed: str, part: CsvPart) -> None:
        column = self.drift_column(feed)
        if column is not None:
            self.record.drift.append(
                {
                    "feed": feed,
                    "file": self._rel(part),
                    "column": column,
                    "position": len(part.header),
                    "rows": part.rows,
                }
            )

    # --- orders: duplicates, late rows, orphans ---------------------------------------------------
    def orders_extras(self, part: CsvPart, drop: OrderDrop, book: OrderBook, drift: pa.Array | None) -> None:
        n = drop.n
        if "duplicates" in self.kinds and n:
            dup = np.sort(self.rng.choice(n, min(n, self._count(3, n, 1000)), replace=False))
            table = drop_table(drop, dup, drift)
            for j, i in enumerate(dup):
                row = _row(table, j)
                line = part.write_raw_row(row)
                self.record.duplicates.append(
                    {"feed": "orders", "file": self._rel(part), "line": line, "kind": "same_file",
                     "order_id": row[0], "updated_at": row[1], "original_file": self._rel(part),
                     "original_line": int(i) + 2}
                )  # fmt: skip
            self._resend(part, book, drift)
        if "late" in self.kinds:
            self._late(part, book, drift)
        if "orphans" in self.kinds:
            self._orphans(part, drop, book, drift)

    def _with_drift(self, t: pa.Table, drift: pa.Array | None) -> pa.Table:
        return self.add_drift("orders", t) if drift is not None else t

    def _resend(self, part: CsvPart, book: OrderBook, drift: pa.Array | None) -> None:
        """Re-send rows of yesterday's drop that are still the latest state of their order."""
        if self.day - 1 < book.world.start_day:
            return
        lo, hi = day_start(self.day - 1), day_start(self.day)
        parts = [c.take(np.flatnonzero(c.touched_between(lo, hi))) for _, c in sorted(book.cohorts.items())]
        yesterday = Cohort.concat(parts)
        unchanged = np.flatnonzero(~yesterday.touched_between(hi, hi + 86_400))
        if not len(unchanged):
            return
        k = min(len(unchanged), self._count(2, len(yesterday), 2000))
        pick = np.sort(self.rng.choice(unchanged, k, replace=False))
        state, updated = yesterday.take(pick).as_of(hi - 1)
        rows = self._with_drift(to_table(state, updated), drift)
        yfile = f"orders/ds={csvio.day_str(self.day - 1)}/{part.path.name}"
        for j, original in enumerate(pick):
            row = _row(rows, j)
            line = part.write_raw_row(row)
            self.record.duplicates.append(
                {"feed": "orders", "file": self._rel(part), "line": line, "kind": "resent",
                 "order_id": row[0], "updated_at": row[1], "original_file": yfile,
                 "original_line": int(original) + 2}
            )  # fmt: skip

    def _late(self, part: CsvPart, book: OrderBook, drift: pa.Array | None) -> None:
        """Replay an order's state as of its payment after a newer row of it was already delivered."""
        before = day_start(self.day)
        cands = []
        for p, c in sorted(book.cohorts.items()):
            if p > self.day - 2:
                continue
            _, delivered = c.as_of(before - 1)
            newer = np.flatnonzero(delivered >= day_start(p + 1))
            cands.append((c, newer, delivered))
        total = sum(len(x[1]) for x in cands)
        if not total:
            return
        k = min(total, self._count(2, total, 2000))
        chosen = np.sort(self.rng.choice(total, k, replace=False))
        offsets = np.cumsum([0] + [len(x[1]) for x in cands])
        picked, superseded = [], []
        for ci, (c, newer, delivered) in enumerate(cands):
            mine = chosen[(chosen >= offsets[ci]) & (chosen < offsets[ci + 1])] - offsets[ci]
            if len(mine):
                idx = newer[mine]
                picked.append(c.take(idx))
                superseded.append(delivered[idx])
        orders = Cohort.concat(picked)
        state, updated = orders.as_of(orders.paid_at)
        rows = self._with_drift(to_table(state, updated), drift)
        newer_ts = csvio.timestamps(np.concatenate(superseded)).to_pylist()
        for j in range(rows.num_rows):
            row = _row(rows, j)
            line = part.write_raw_row(row)
            self.record.late.append(
                {"feed": "orders", "file": self._rel(part), "line": line, "order_id": row[0],
                 "updated_at": row[1], "superseded_by_updated_at": newer_ts[j]}
            )  # fmt: skip

    def _orphans(self, part: CsvPart, drop: OrderDrop, book: OrderBook, drift: pa.Array | None) -> None:
        """Extra orders paid today whose shop, product or creator is not in the masters."""
        paid_today = drop.paid_today()
        if not len(paid_today):
            return
        col = {name: i for i, name in enumerate(part.header)}
        each = self._count(1, book.world.scale.orders_per_day, 2000)
        channel = drop.parts[-1][0].channel
        dist_rows = paid_today[(channel == LIVE_DIST) | (channel == VIDEO_DIST)]
        seq = 0
        for kind in ("unknown_shop", "unknown_product", "unknown_creator"):
            pool = dist_rows if kind == "unknown_creator" else paid_today
            if not len(pool):
                continue
            for i in self.rng.choice(len(pool), min(each, len(pool)), replace=False):
                seq += 1
                row = _row(drop_table(drop, pool[[int(i)]], drift), 0)
                row[col["order_id"]] = f"OORPH{_ymd(self.day)}{seq:05d}"
                if kind == "unknown_shop":
                    row[col["shop_id"]] = f"SX{seq:05d}"
                    row[col["product_id"]] = f"PX{seq:06d}"
                elif kind == "unknown_product":
                    row[col["product_id"]] = f"PX{seq:06d}"
                else:
                    row[col["creator_id"]] = f"CX{seq:05d}"
                line = part.write_raw_row(row)
                self.record.orphans.append(
                    {"feed": "orders", "file": self._rel(part), "line": line, "kind": kind,
                     "order_id": row[col["order_id"]], "shop_id": row[col["shop_id"]],
                     "product_id": row[col["product_id"]], "creator_id": row[col["creator_id"]]}
                )  # fmt: skip

    # --- malformed rows (any feed listed in MALFORMED) -------------------------------------------------
    def malformed(self, feed: str, part: CsvPart, n: int, rows: Callable[[np.ndarray], pa.Table]) -> None:
        """Append row-level faults, each a copy of a clean row (``rows(positions)``) with one fault."""
        if "malformed" not in self.kinds or feed not in MALFORMED or n == 0:
            return
        variants = MALFORMED[feed]
        # at most 0.5 % of the clean rows, so a day with malformed rows still passes the 1 % gate
        k = max(1, min(len(variants) * (1 + n // 20_000), n // 200, MAX_PER_KIND))
        key_col, key_prefix = KEY_COLUMN[feed]
        col = {name: i for i, name in enumerate(part.header)}
        sources = self.rng.choice(n, k, replace=True)
        order = np.argsort(sources, kind="stable")
        table = rows(sources[order])
        text = [None] * k
        for pos, j in enumerate(order):
            text[j] = _row(table, pos)
        for j in range(k):
            reason, column, bad = variants[j % len(variants)]
            row = text[j]
            row[col[key_col]] = f"{key_prefix}{_ymd(self.day)}{j + 1:05d}"
            if column is None:
                row = row[:-1] if bad == "drop_last_field" else [*row, "surplus"]
                value = f"{len(row)} fields, header has {len(part.header)}"
            elif bad == "+1d":
                future = csvio.timestamps(np.array([day_start(self.day + 1) + 3 * 3600])).to_pylist()[0]
                row[col["paid_at"]] = future
                row[col["updated_at"]] = future
                value = future
            else:
                row[col[column]] = bad
                value = bad
            line = part.write_raw_row(row)
            self.record.malformed.append(
                {"feed": feed, "file": self._rel(part), "line": line, "reason_code": reason,
                 "column": column, "value": value}
            )  # fmt: skip

    def note_file(self, feed: str, part: CsvPart, clean_rows: int) -> None:
        quarantined = sum(1 for m in self.record.malformed if m["file"] == self._rel(part))
        self.record.files[self._rel(part)] = {
            "feed": feed,
            "rows": part.rows,
            "clean_rows": clean_rows,
            "expected_quarantined": quarantined,
            "expected_loaded": part.rows - quarantined,
        }
