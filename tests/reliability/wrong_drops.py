"""Wrong landing drops an upstream bug would send, and re-delivery the way upstream does it."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path

WRONG_AMOUNTS, WRONG_ORDERS, WRONG_LATER, WRONG_SHOPS = 25, 15, 10, 5
GHOST_PREFIX = "OWRONG"


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        header, *rows = list(csv.reader(fh))
    return header, rows


def as_csv(header: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    return buffer.getvalue()


def redeliver(folder: Path, files: dict[str, str]) -> None:
    """What upstream does: take the drop back (no _SUCCESS), rewrite its files, mark it complete again."""
    (folder / "_SUCCESS").unlink()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "_SUCCESS").touch()


def wrong_orders(header: list[str], rows: list[list[str]], ds: str) -> list[list[str]]:
    """The correct orders drop spoiled three ways: wrong amounts (same change time), changes stamped later
    than the truth (with wrong amounts), and orders that never existed."""
    col = {name: i for i, name in enumerate(header)}
    ds_end = datetime.fromisoformat(f"{ds}T00:00:00+08:00") + timedelta(days=1)
    wrong = [list(r) for r in rows]
    for row in wrong[:WRONG_AMOUNTS]:
        row[col["pay_amount"]] = f"{float(row[col['pay_amount']]) * 10:.2f}"
    early = [
        r
        for r in wrong[WRONG_AMOUNTS:]
        if datetime.fromisoformat(r[col["updated_at"]]) < ds_end - timedelta(hours=2)
    ]
    for row in early[:WRONG_LATER]:
        row[col["updated_at"]] = (
            datetime.fromisoformat(row[col["updated_at"]]) + timedelta(hours=1)
        ).isoformat()
        row[col["pay_amount"]] = f"{float(row[col['pay_amount']]) * 3:.2f}"
    for i, row in enumerate([r for r in rows if r[col["paid_at"]].startswith(ds)][:WRONG_ORDERS]):
        ghost = list(row)
        ghost[col["order_id"]] = f"{GHOST_PREFIX}{i:05d}"
        wrong.append(ghost)
    return wrong


def wrong_shops(header: list[str], rows: list[list[str]]) -> list[list[str]]:
    """The correct shops snapshot with a few active shops suspended by mistake."""
    col = {name: i for i, name in enumerate(header)}
    wrong = [list(r) for r in rows]
    for row in [r for r in wrong if r[col["status"]] == "active"][:WRONG_SHOPS]:
        row[col["status"]] = "suspended"
    return wrong
