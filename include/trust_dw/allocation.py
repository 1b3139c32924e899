"""Exact flow allocation (DESIGN §6): part budgets, water-filling under a cap, integer rounding, reserve.

Everything is integer arithmetic on exact weights (``int``, ``Decimal`` or ``Fraction``; floats are
refused), so the result never depends on summation order or on the order recipients are given in.

A pool of ``daily_impressions`` is cut into parts (one per recipient type, in the seed's order): each part
gets ``floor(share × daily_impressions)`` and the last part what is left. A part's budget B is split among
its recipients in proportion to their weights, nobody above ``cap × B`` (water-filling); then integers:
capped recipients get ``floor(cap × B)``, the others the floor of their exact share, and
``floor(Σ fractional parts)`` extra units go one each to the largest fractional parts (ties: smaller
recipient id first), skipping anyone who would pass ``floor(cap × B)``. What is not placed goes to the
pool's single reserve row, so Σ impressions of a pool (reserve included) = ``daily_impressions``.

The dbt Python model ``int_flow_allocation`` calls :func:`allocation_table`; the published mart
``flow_allocation_daily`` types and keeps it per ds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pyarrow as pa

RESERVE = "reserve"
# Published precisions: weight DECIMAL(38,10), share DECIMAL(18,12) (1 impression of the largest pool
# is ~6.1e-9, still four significant digits). Both are rounded half away from zero, like the scores.
WEIGHT_DECIMALS = 10
SHARE_DECIMALS = 12

Weight = int | Decimal | Fraction


@dataclass(frozen=True)
class Part:
    """One recipient type's part of a pool: its share of the pool budget and the per-recipient cap
    (a fraction of the part's budget)."""

    recipient_type: str
    share: Fraction
    cap: Fraction


@dataclass(frozen=True)
class Allocated:
    """One output row of a pool. ``weight`` and ``rank`` are None for the reserve row."""

    recipient_type: str
    recipient_id: str
    weight: Fraction | None
    impressions: int
    capped: bool
    rank: int | None


def exact(value: Weight | str, what: str) -> Fraction:
    """``value`` as an exact Fraction; floats are refused (their binary rounding would leak in)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool | float):
        raise TypeError(f"{what} must be exact (int, Decimal, Fraction or str), got {value!r}")
    return Fraction(value)


def part_budgets(daily_impressions: int, shares: Sequence[Fraction]) -> list[int]:
    """``floor(share × daily_impressions)`` per part; the last part gets what is left."""
    if not shares:
        return []
    budgets = [math.floor(share * daily_impressions) for share in shares[:-1]]
    budgets.append(daily_impressions - sum(budgets))
    return budgets


def split_part(budget: int, cap: Fraction, recipients: Mapping[str, Fraction]) -> dict[str, tuple[int, bool]]:
    """Split ``budget`` among ``recipients`` (id → weight > 0) with at most ``cap × budget`` each.

    Returns recipient_id → (impressions, capped). Σ impressions ≤ budget; the caller books the rest to
    the reserve. The arithmetic is on integers: weights are scaled to a common denominator first.
    """
    if not recipients:
        return {}
    scale = math.lcm(*(w.denominator for w in recipients.values()))
    weights = {rid: w.numerator * (scale // w.denominator) for rid, w in recipients.items()}
    cap_n, cap_d = cap.numerator, cap.denominator
    cap_floor = budget * cap_n // cap_d  # floor(c × B)

    # Water-filling. With k recipients fixed at c×B, a free recipient's exact share is
    # B·(cap_d − k·cap_n)·w / (cap_d·W_free), above the cap iff (cap_d − k·cap_n)·w > cap_n·W_free.
    # Everybody above is fixed at once and the rest re-split, until nobody is above. The condition grows
    # with w, so the recipients above are always the heaviest free ones: a prefix of the order by weight.
    by_weight = sorted(weights, key=lambda rid: (-weights[rid], rid))
    capped_count, free_weight = 0, sum(weights.values())
    while capped_count < len(by_weight):
        room = cap_d - capped_count * cap_n
        over = 0
        for rid in by_weight[capped_count:]:
            if room * weights[rid] <= cap_n * free_weight:
                break
            over += 1
        if over == 0:
            break
        free_weight -= sum(weights[rid] for rid in by_weight[capped_count : capped_count + over])
        capped_count += over
    capped_ids = set(by_weight[:capped_count])

    # Integers: a free recipient's exact share is numerator_factor·w / denominator.
    numerator_factor = budget * (cap_d - capped_count * cap_n)
    denominator = cap_d * free_weight
    impressions: dict[str, int] = {}
    remainders: dict[str, int] = {}
    for rid in weights:
        if rid in capped_ids:
            impressions[rid] = cap_floor
        else:
            impressions[rid], remainders[rid] = divmod(numerator_factor * weights[rid], denominator)
    extra = sum(remainders.values()) // denominator if remainders else 0
    for rid in sorted(remainders, key=lambda r: (-remainders[r], r)):
        if extra == 0:
            break
        if impressions[rid] + 1 > cap_floor:
            continue  # would pass floor(c × B): skipped, the unit stays unplaced (reserve)
        impressions[rid] += 1
        extra -= 1
    return {rid: (impressions[rid], rid in capped_ids) for rid in weights}


def allocate_pool(
    daily_impressions: int,
    parts: Sequence[tuple[str, Weight | str, Weight | str]],
    recipients: Mapping[str, Iterable[tuple[str, Weight]]],
) -> list[Allocated]:
    """Allocate one pool for one day.

    ``parts``: (recipient_type, share, cap) in the seed's order; shares must add up to 1.
    ``recipients``: recipient_type → (recipient_id, weight). Weights must be exact and ≥ 0; a weight of 0
    is not a recipient (it is dropped: it could only ever receive 0). Returns the rows of every part,
    ranked within their recipient type, then the pool's reserve row (always present).
    """
    if isinstance(daily_impressions, bool) or not isinstance(daily_impressions, int) or daily_impressions < 0:
        raise ValueError(f"daily_impressions must be a non-negative integer, got {daily_impressions!r}")
    typed_parts = [
        Part(t, exact(s, f"share of part {t!r}"), exact(c, f"cap of part {t!r}")) for t, s, c in parts
    ]
    _check_parts(typed_parts)
    unknown = sorted(set(recipients) - {p.recipient_type for p in typed_parts})
    if unknown:
        raise ValueError(f"recipients of type(s) {unknown} have no part in this pool")

    rows: list[Allocated] = []
    budgets = part_budgets(daily_impressions, [p.share for p in typed_parts])
    for part, budget in zip(typed_parts, budgets, strict=True):
        eligible = _checked_recipients(part.recipient_type, recipients.get(part.recipient_type, ()))
        split = split_part(budget, part.cap, eligible)
        ranked = sorted(split, key=lambda rid: (-split[rid][0], rid))
        rows.extend(
            Allocated(part.recipient_type, rid, eligible[rid], *split[rid], rank)
            for rank, rid in enumerate(ranked, start=1)
        )
    reserve = daily_impressions - sum(r.impressions for r in rows)
    rows.append(Allocated(RESERVE, RESERVE, None, reserve, False, None))
    return rows


def _check_parts(parts: Sequence[Part]) -> None:
    if not parts:
        raise ValueError("a pool needs at least one part")
    types = [p.recipient_type for p in parts]
    if len(set(types)) != len(types) or RESERVE in types:
        raise ValueError(f"part recipient types must be distinct and not {RESERVE!r}: {types}")
    for p in parts:
        if not 0 <= p.share <= 1:
            raise ValueError(f"share of part {p.recipient_type!r} must be in [0, 1], got {p.share}")
        if not 0 < p.cap <= 1:
            raise ValueError(f"cap of part {p.recipient_type!r} must be in (0, 1], got {p.cap}")
    total = sum(p.share for p in parts)
    if total != 1:
        raise ValueError(f"part shares must add up to 1, got {total} ({types})")


def _checked_recipients(recipient_type: str, recipients: Iterable[tuple[str, Weight]]) -> dict[str, Fraction]:
    """recipient_id → exact weight, zero weights dropped; refuses inexact, negative or repeated entries."""
    seen: dict[str, Fraction] = {}
    for rid, raw_weight in recipients:
        weight = exact(raw_weight, f"weight of {recipient_type} {rid!r}")
        if weight < 0:
            raise ValueError(f"weight of {recipient_type} {rid!r} is negative: {raw_weight}")
        if rid in seen:
            raise ValueError(f"{recipient_type} {rid!r} appears twice in one part")
        seen[rid] = weight
    return {rid: w for rid, w in seen.items() if w > 0}


# --- the table the dbt Python model returns ------------------------------------------------------------

ALLOCATION_SCHEMA = pa.schema(
    [
        ("ds", pa.date32()),
        ("effective_ds", pa.date32()),
        ("pool_id", pa.string()),
        ("recipient_type", pa.string()),
        ("recipient_id", pa.string()),
        ("weight", pa.decimal128(38, WEIGHT_DECIMALS)),
        ("impressions", pa.int64()),
        ("share", pa.decimal128(18, SHARE_DECIMALS)),
        ("rank", pa.int32()),
        ("capped", pa.bool_()),
    ]
)


@dataclass(frozen=True)
class PoolPart:
    """One row of the pool seeds: a pool's budget and one of its parts (``part_order`` gives the order)."""

    pool_id: str
    daily_impressions: int
    part_order: int
    recipient_type: str
    share: Weight | str
    cap: Weight | str


@dataclass(frozen=True)
class Recipient:
    """One eligible recipient of a pool part: weight = weight_numerator / weight_denominator exactly."""

    pool_id: str
    recipient_type: str
    recipient_id: str
    weight_numerator: Weight
    weight_denominator: Weight = 1


def allocation_table(ds: date, pool_parts: Iterable[PoolPart], recipients: Iterable[Recipient]) -> pa.Table:
    """Allocate every pool for ``ds`` (published for ``ds + 1``): rows by pool, part order and rank, each
    pool's reserve row last."""
    pools: dict[str, list[PoolPart]] = {}
    for pp in pool_parts:
        pools.setdefault(pp.pool_id, []).append(pp)
    by_pool: dict[str, dict[str, list[tuple[str, Fraction]]]] = {}
    for r in recipients:
        if r.pool_id not in pools:
            raise ValueError(
                f"recipient {r.recipient_type} {r.recipient_id!r} is for unknown pool {r.pool_id!r}"
            )
        weight = exact(r.weight_numerator, "weight_numerator") / exact(
            r.weight_denominator, "weight_denominator"
        )
        by_pool.setdefault(r.pool_id, {}).setdefault(r.recipient_type, []).append((r.recipient_id, weight))

    effective_ds = ds + timedelta(days=1)
    columns: dict[str, list] = {name: [] for name in ALLOCATION_SCHEMA.names}
    for pool_id in sorted(pools):
        parts = sorted(pools[pool_id], key=lambda pp: pp.part_order)
        budgets = {pp.daily_impressions for pp in parts}
        if len(budgets) != 1:
            raise ValueError(f"pool {pool_id!r} has more than one daily_impressions: {sorted(budgets)}")
        daily = budgets.pop()
        rows = allocate_pool(
            daily, [(pp.recipient_type, pp.share, pp.cap) for pp in parts], by_pool.get(pool_id, {})
        )
        for row in rows:
            columns["ds"].append(ds)
            columns["effective_ds"].append(effective_ds)
            columns["pool_id"].append(pool_id)
            columns["recipient_type"].append(row.recipient_type)
            columns["recipient_id"].append(row.recipient_id)
            columns["weight"].append(None if row.weight is None else to_decimal(row.weight, WEIGHT_DECIMALS))
            columns["impressions"].append(row.impressions)
            columns["share"].append(to_decimal(Fraction(row.impressions, daily or 1), SHARE_DECIMALS))
            columns["rank"].append(row.rank)
            columns["capped"].append(row.capped)
    return pa.table(columns, schema=ALLOCATION_SCHEMA)


def to_decimal(value: Fraction, places: int) -> Decimal:
    """``value`` rounded half away from zero to ``places`` decimals, on integers (no binary rounding)."""
    quotient, remainder = divmod(abs(value.numerator) * 10**places, value.denominator)
    if 2 * remainder >= value.denominator:
        quotient += 1
    # From a string: exact whatever the decimal context's precision (the default 28 digits would round).
    return Decimal(f"{'-' if value < 0 else ''}{quotient}E-{places}")
