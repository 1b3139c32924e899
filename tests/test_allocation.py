"""The exact flow allocation of DESIGN §6 (trust_dw.allocation): pure Python, fast.

Every expected number below is worked out by hand in the comment next to it.
"""

from __future__ import annotations

import math
import random
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from trust_dw.allocation import (
    RESERVE,
    PoolPart,
    Recipient,
    allocate_pool,
    allocation_table,
    part_budgets,
    to_decimal,
)

CHUANLIU = 164_383_561


def by_id(rows):
    """{recipient_id: (impressions, capped)} of the non-reserve rows, plus the reserve impressions."""
    got = {r.recipient_id: (r.impressions, r.capped) for r in rows if r.recipient_type != RESERVE}
    reserves = [r for r in rows if r.recipient_type == RESERVE]
    assert len(reserves) == 1, "exactly one reserve row per pool"
    return got, reserves[0].impressions


def one_part(budget, cap, recipients):
    rows = allocate_pool(budget, [("shop", 1, cap)], {"shop": recipients})
    assert sum(r.impressions for r in rows) == budget
    return rows


# --- part budgets ---------------------------------------------------------------------------------------


def test_part_budgets_floor_each_part_and_the_last_takes_the_rest():
    # chuanliu: floor(0.7 × 164,383,561) = floor(115,068,492.7) = 115,068,492; creators get 49,315,069
    assert part_budgets(CHUANLIU, [Fraction("0.7"), Fraction("0.3")]) == [115_068_492, 49_315_069]
    # thirds of 10: 3, 3 and the last part 4 (not floor(10/3) = 3)
    assert part_budgets(10, [Fraction(1, 3)] * 3) == [3, 3, 4]


def test_last_part_takes_the_remainder_through_allocate_pool():
    # 11 impressions, shops 0.5 → floor(5.5) = 5, creators get what is left: 6
    rows = allocate_pool(
        11, [("shop", "0.5", 1), ("creator", "0.5", 1)], {"shop": [("s", 1)], "creator": [("c", 1)]}
    )
    got, reserve = by_id(rows)
    assert got == {"s": (5, False), "c": (6, False)}
    assert reserve == 0


# --- water-filling --------------------------------------------------------------------------------------


def test_proportional_split_without_cap_binding():
    # weights 1:2:2 of 100 with a 50% cap (50): 20, 40, 40
    got, reserve = by_id(one_part(100, "0.5", [("a", 1), ("b", 2), ("c", 2)]))
    assert got == {"a": (20, False), "b": (40, False), "c": (40, False)}
    assert reserve == 0


def test_cap_and_re_split_over_several_rounds():
    # B = 1000, cap 25% = 250; weights 60, 20, 12, 8 (Σ 100).
    # round 1: a = 600 > 250 → a fixed at 250; 750 left for Σw 40
    # round 2: b = 750 × 20/40 = 375 > 250 → b fixed; 500 left for Σw 20
    # round 3: c = 500 × 12/20 = 300 > 250 → c fixed; 250 left for d alone
    # round 4: d = 250, equal to the cap, not above it → not capped
    got, reserve = by_id(one_part(1000, "0.25", [("a", 60), ("b", 20), ("c", 12), ("d", 8)]))
    assert got == {"a": (250, True), "b": (250, True), "c": (250, True), "d": (250, False)}
    assert reserve == 0


def test_recipient_not_over_in_the_first_round_is_capped_after_the_re_split():
    # B = 1000, cap 30%; weights 100, 50, 20, 10, 10, 10 (Σ 200)
    # round 1: a = 500 → capped; b = 250 is under the cap; 700 left for Σw 100
    # round 2: b = 350 > 300 → capped; 400 left for Σw 50: c = 160, d = e = f = 80
    weights = [("a", 100), ("b", 50), ("c", 20), ("d", 10), ("e", 10), ("f", 10)]
    got, reserve = by_id(one_part(1000, "0.3", weights))
    assert got == {
        "a": (300, True),
        "b": (300, True),
        "c": (160, False),
        "d": (80, False),
        "e": (80, False),
        "f": (80, False),
    }
    assert reserve == 0


def test_everybody_capped_sends_the_remainder_to_the_reserve():
    # B = 1005, cap 10% = 100.5 → each of the 3 gets floor(100.5) = 100; 1005 − 300 = 705 to the reserve
    got, reserve = by_id(one_part(1005, "0.1", [("a", 5), ("b", 1), ("c", 1)]))
    assert got == {"a": (100, True), "b": (100, True), "c": (100, True)}
    assert reserve == 705


def test_no_eligible_recipient_puts_the_whole_pool_in_the_reserve():
    rows = allocate_pool(CHUANLIU, [("shop", "0.7", "0.05"), ("creator", "0.3", "0.05")], {})
    assert [(r.recipient_type, r.recipient_id, r.impressions, r.rank, r.weight, r.capped) for r in rows] == [
        ("reserve", "reserve", CHUANLIU, None, None, False)
    ]


def test_an_empty_part_goes_to_the_reserve_and_the_reserve_row_is_there_when_zero():
    # creators' part (3 of 10) has nobody: reserve 3; shops take their 7 exactly
    rows = allocate_pool(10, [("shop", "0.7", 1), ("creator", "0.3", 1)], {"shop": [("s", 1)], "creator": []})
    assert by_id(rows) == ({"s": (7, False)}, 3)
    rows = allocate_pool(10, [("shop", 1, 1)], {"shop": [("s", 1)]})
    assert by_id(rows) == ({"s": (10, False)}, 0)


# --- integers -------------------------------------------------------------------------------------------


def test_extra_units_go_to_the_largest_fractional_parts():
    # 10 by 1:2:4 → 1.43, 2.86, 5.71; floors 1 + 2 + 5 = 8; floor(.43 + .86 + .71) = 2 extra → b and c
    got, reserve = by_id(one_part(10, 1, [("a", 1), ("b", 2), ("c", 4)]))
    assert got == {"a": (1, False), "b": (3, False), "c": (6, False)}
    assert reserve == 0


def test_ties_in_fractional_parts_go_to_the_smaller_recipient_id_first():
    # 10 by 1:1:1 → 3.33 each; one extra unit; the tie goes to the smallest id "a" (input order irrelevant)
    rows = one_part(10, 1, [("c", 1), ("a", 1), ("b", 1)])
    assert by_id(rows) == ({"a": (4, False), "b": (3, False), "c": (3, False)}, 0)
    assert [(r.recipient_id, r.rank) for r in rows if r.rank] == [("a", 1), ("b", 2), ("c", 3)]


def test_an_extra_unit_that_would_pass_the_floor_of_the_cap_skips_to_the_next():
    # B = 10, cap 35% → c×B = 3.5, floor 3. Weights 345:230:225:200 → 3.45, 2.30, 2.25, 2.00 (none above 3.5).
    # floors 3 + 2 + 2 + 2 = 9; floor(.45 + .30 + .25) = 1 extra: a has the largest part but 3 + 1 > 3,
    # so it is skipped and the unit goes to b.
    got, reserve = by_id(one_part(10, "0.35", [("a", 345), ("b", 230), ("c", 225), ("d", 200)]))
    assert got == {"a": (3, False), "b": (3, False), "c": (2, False), "d": (2, False)}
    assert reserve == 0


def test_an_extra_unit_nobody_can_take_stays_in_the_reserve():
    # B = 10, cap 35%, weights 34:33:33 → 3.4, 3.3, 3.3; floors 9; 1 extra, but everybody has 3 = floor(3.5)
    got, reserve = by_id(one_part(10, "0.35", [("a", 34), ("b", 33), ("c", 33)]))
    assert got == {"a": (3, False), "b": (3, False), "c": (3, False)}
    assert reserve == 1


def test_chuanliu_worked_pool():
    # shops: B = 115,068,492, cap 5% = 5,753,424.6 → floor 5,753,424. s01 and s02 are capped (round 1);
    # the 27 others share 115,068,492 − 2 × 5,753,424.6 = 103,561,642.8 → 3,835,616.4 each: floors, and
    # floor(27 × 0.4) = 10 extra units to the 10 smallest ids (equal fractional parts).
    # creators: B = 49,315,069, one creator capped at floor(2,465,753.45) = 2,465,753.
    # reserve = 164,383,561 − 2 × 5,753,424 − 27 × 3,835,616 − 10 − 2,465,753 = 46,849,318
    shops = [("s01", Decimal("100.00")), ("s02", Decimal("50.00"))] + [(f"s{i:02d}", 1) for i in range(3, 30)]
    rows = allocate_pool(
        CHUANLIU,
        [("shop", "0.7", "0.05"), ("creator", "0.3", "0.05")],
        {"shop": shops, "creator": [("c1", 7)]},
    )
    got, reserve = by_id(rows)
    assert got["s01"] == got["s02"] == (5_753_424, True)
    assert [got[f"s{i:02d}"][0] for i in range(3, 30)] == [3_835_617] * 10 + [3_835_616] * 17
    assert got["c1"] == (2_465_753, True)
    assert reserve == 46_849_318
    assert sum(r.impressions for r in rows) == CHUANLIU


def test_weights_are_exact_fractions():
    # cold_start weights (90 − age)/90 are not finite decimals: 89/90 and 1/90 split 900 as 890 and 10
    got, _ = by_id(one_part(900, 1, [("young", Fraction(89, 90)), ("old", Fraction(1, 90))]))
    assert got == {"young": (890, False), "old": (10, False)}


def test_zero_weight_recipients_are_dropped():
    rows = one_part(10, 1, [("a", 1), ("z", 0)])
    assert by_id(rows) == ({"a": (10, False)}, 0)


# --- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "recipients", "error", "message"),
    [
        ([("shop", 1, 1)], {"shop": [("a", 0.5)]}, TypeError, "weight of shop 'a' must be exact"),
        ([("shop", 1, 1)], {"shop": [("a", -1)]}, ValueError, "weight of shop 'a' is negative"),
        ([("shop", 1, 1)], {"shop": [("a", 1), ("a", 2)]}, ValueError, "shop 'a' appears twice"),
        ([("shop", "0.7", 1), ("creator", "0.2", 1)], {}, ValueError, "must add up to 1"),
        ([("shop", 1, 0)], {}, ValueError, "cap of part 'shop' must be in (0, 1]"),
        ([("shop", 1, 1)], {"creator": [("c", 1)]}, ValueError, "type(s) ['creator'] have no part"),
        ([("shop", 0.5, 1), ("creator", 0.5, 1)], {}, TypeError, "share of part 'shop' must be exact"),
        ([("shop", "0.5", 1), ("shop", "0.5", 1)], {}, ValueError, "must be distinct"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(parts, recipients, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        allocate_pool(100, parts, recipients)


# --- the table the dbt model returns --------------------------------------------------------------------


def test_allocation_table_rows_types_and_shares():
    parts = [
        PoolPart("chuanliu", CHUANLIU, 1, "shop", Decimal("0.7"), Decimal("0.05")),
        PoolPart("chuanliu", CHUANLIU, 2, "creator", Decimal("0.3"), Decimal("0.05")),
        PoolPart("cold_start", 54_794_520, 1, "shop", Decimal("1"), Decimal("0.02")),
    ]
    recipients = [
        # weight = 1000.00 × 80.00 × 80.00 / 10000 = 640
        Recipient("chuanliu", "shop", "S1", Decimal("6400000.000000"), 10000),
        Recipient("chuanliu", "creator", "C1", Decimal("12.5"), 1),
        Recipient("cold_start", "shop", "S2", 89, 90),
    ]
    table = allocation_table(date(2026, 1, 31), parts, recipients)
    rows = table.to_pylist()
    assert [(r["pool_id"], r["recipient_type"], r["recipient_id"]) for r in rows] == [
        ("chuanliu", "shop", "S1"),
        ("chuanliu", "creator", "C1"),
        ("chuanliu", "reserve", "reserve"),
        ("cold_start", "shop", "S2"),
        ("cold_start", "reserve", "reserve"),
    ]
    assert {r["effective_ds"] for r in rows} == {date(2026, 2, 1)}
    s1, c1, reserve, s2, cold_reserve = rows
    assert s1["weight"] == Decimal("640.0000000000")
    assert s2["weight"] == Decimal("0.9888888889")  # 89/90 rounded half up to 10 places for display only
    assert (s1["impressions"], s1["capped"], s1["rank"]) == (5_753_424, True, 1)
    assert c1["impressions"] == 2_465_753
    # share = 5,753,424 / 164,383,561 = 0.035 − 0.635 / 164,383,561 = 0.0349999961372… → 12 places
    assert s1["share"] == Decimal("0.034999996137")
    assert reserve["share"] == to_decimal(Fraction(reserve["impressions"], CHUANLIU), 12)
    assert (reserve["weight"], reserve["rank"], reserve["capped"]) == (None, None, False)
    # cold_start cap 2% of 54,794,520 = 1,095,890.4 → 1,095,890; the rest is the reserve
    assert (s2["impressions"], cold_reserve["impressions"]) == (1_095_890, 54_794_520 - 1_095_890)
    assert str(table.schema.field("share").type) == "decimal128(18, 12)"


def test_allocation_table_refuses_a_recipient_of_an_unknown_pool():
    with pytest.raises(ValueError, match="unknown pool 'nope'"):
        allocation_table(
            date(2026, 1, 1), [PoolPart("p", 10, 1, "shop", 1, 1)], [Recipient("nope", "shop", "s", 1)]
        )


def test_to_decimal_rounds_half_away_from_zero_exactly():
    assert to_decimal(Fraction(5, 10**13), 12) == Decimal("0.000000000001")
    assert to_decimal(Fraction(49999, 10**17), 12) == Decimal("0.000000000000")
    assert to_decimal(Fraction(1, 164_383_561), 12) == Decimal("0.000000006083")


# --- properties -----------------------------------------------------------------------------------------


def reference_split(budget: int, cap: Fraction, weights: dict[str, Fraction]) -> dict[str, int]:
    """§6 read word by word, with Fractions and no shortcuts (slow, obviously right)."""
    capped: set[str] = set()
    while True:
        free = [r for r in weights if r not in capped]
        remaining = budget - len(capped) * cap * budget
        total = sum(weights[r] for r in free)
        shares = {r: remaining * weights[r] / total for r in free}
        over = {r for r, s in shares.items() if s > cap * budget}
        if not over:
            break
        capped |= over
    cap_floor = math.floor(cap * budget)
    result = {r: cap_floor for r in capped}
    result |= {r: math.floor(s) for r, s in shares.items()}
    extra = math.floor(sum(s - math.floor(s) for s in shares.values()))
    for r in sorted(shares, key=lambda r: (-(shares[r] - math.floor(shares[r])), r)):
        if extra and result[r] + 1 <= cap_floor:
            result[r] += 1
            extra -= 1
    return result


weights_strategy = st.dictionaries(
    st.text(alphabet="abcdefgh", min_size=1, max_size=3),
    st.one_of(
        st.integers(min_value=1, max_value=10**6),
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2),
        st.fractions(min_value=Fraction(1, 1000), max_value=1000),
    ),
    min_size=1,
    max_size=30,
)
caps = st.fractions(min_value=Fraction(1, 100), max_value=1).filter(lambda c: c > 0)


@settings(max_examples=300, deadline=None)
@given(
    budget=st.integers(min_value=0, max_value=10**9),
    cap=caps,
    weights=weights_strategy,
    seed=st.integers(0, 99),
)
def test_property_sum_is_budget_nobody_above_cap_order_free_and_as_specified(budget, cap, weights, seed):
    items = list(weights.items())
    rows = allocate_pool(budget, [("shop", 1, cap)], {"shop": items})
    assert sum(r.impressions for r in rows) == budget
    cap_floor = math.floor(cap * budget)
    for r in rows:
        if r.recipient_type != RESERVE:
            assert 0 <= r.impressions <= cap_floor
            assert not r.capped or r.impressions == cap_floor
    assert rows[-1].recipient_type == RESERVE and rows[-1].impressions >= 0

    random.Random(seed).shuffle(items)
    assert allocate_pool(budget, [("shop", 1, cap)], {"shop": items}) == rows

    exact = {rid: Fraction(w) for rid, w in weights.items()}
    assert {r.recipient_id: r.impressions for r in rows[:-1]} == reference_split(budget, cap, exact)


@settings(max_examples=100, deadline=None)
@given(
    budget=st.integers(min_value=0, max_value=10**9),
    share=st.fractions(min_value=0, max_value=1),
    shops=weights_strategy,
    creators=weights_strategy,
)
def test_property_two_parts_sum_to_the_pool_budget(budget, share, shops, creators):
    parts = [("shop", share, Fraction(1, 20)), ("creator", 1 - share, Fraction(1, 20))]
    rows = allocate_pool(budget, parts, {"shop": list(shops.items()), "creator": list(creators.items())})
    assert sum(r.impressions for r in rows) == budget
    for recipient_type in ("shop", "creator"):
        ranked = [r for r in rows if r.recipient_type == recipient_type]
        assert [r.rank for r in ranked] == list(range(1, len(ranked) + 1))
        assert ranked == sorted(ranked, key=lambda r: (-r.impressions, r.recipient_id))
