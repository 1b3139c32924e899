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


# --- the dbt models on hand-made upstream rows (real dbt, real DuckDB) --------------------------------------

DS = "2026-01-31"

# The upstream relations the flow models read (their contract, docs/ARCHITECTURE.md), filled by hand:
# one candidate per eligibility rule that fails, plus eligible ones on the boundaries.
UPSTREAM = {
    "intermediate.int_shops__as_of_ds": (
        "shop_id varchar, opened_at date, fans_at_open integer, status varchar",
        [
            *[(f"S{i:02d}", "2025-01-01", 0, "suspended" if i == 3 else "active") for i in range(1, 11)],
            ("N01", "2026-01-31", 0, "active"),  # age 0 → weight 90/90
            ("N02", "2025-11-03", 0, "active"),  # age 89 → weight 1/90; refund rate exactly 0.05 is allowed
            ("N03", "2026-01-20", 0, "closed"),
            ("N04", "2025-11-02", 0, "active"),  # age 90
            ("N05", "2026-02-01", 0, "active"),  # opens after ds: age −1
            ("N06", "2026-01-20", 1, "active"),  # opened with a fan
            ("N07", "2026-01-20", 0, "active"),  # no live session in W7
            ("N08", "2026-01-20", 0, "active"),  # 10 orders, quality refunds 2 / 20 delivered = 0.10
            ("N09", "2025-12-17", 0, "active"),  # age 45 → weight 1/2; 9 orders: refund rate not checked
        ],
    ),
    "intermediate.int_flow_window": (
        "ds date, shop_id varchar, distribution_gmv_w28 decimal(38, 2), live_sessions_w28 bigint,"
        " live_sessions_w7 bigint",
        [
            (DS, "S01", "1000.00", 4, 1),
            (DS, "S02", "500.00", 10, 2),
            (DS, "S03", "500.00", 10, 2),
            (DS, "S04", "0.00", 10, 2),
            (DS, "S05", "500.00", 3, 1),
            *[(DS, f"S{i:02d}", "500.00", 10, 2) for i in (6, 7, 8, 9)],
            (DS, "S10", "100.00", 4, 0),
            *[(DS, f"N{i:02d}", "0.00", 1, 1) for i in (1, 2, 3, 4, 5, 6, 8, 9)],
            ("2026-01-30", "S04", "9999.00", 10, 2),  # another ds: ignored
        ],
    ),
    "intermediate.int_shop_window__w30": (
        "ds date, shop_id varchar, cohort_orders bigint, delivered_orders bigint,"
        " quality_refund_orders bigint",
        [(DS, "N02", 10, 20, 1), (DS, "N08", 10, 20, 2), (DS, "N09", 9, 9, 9)],
    ),
    "marts.shop_scores_daily": (
        "ds date, shop_id varchar, experience_score decimal(5, 2), score_status varchar,"
        " effective_score decimal(5, 2)",
        [
            (DS, "S01", "80.00", "scored", "80.00"),
            (DS, "S02", "90.00", "scored", "90.00"),
            *[(DS, f"S{i:02d}", "95.00", "scored", "95.00") for i in (3, 4, 5, 9)],
            (DS, "S07", "95.00", "provisional", "70.00"),
            (DS, "S08", "74.99", "scored", "74.99"),
            (DS, "S10", "75.00", "scored", "75.00"),
        ],
    ),
    "core.fct_violations": (
        "violation_id varchar, ruled_at timestamptz, ruled_date date, subject_type varchar,"
        " subject_id varchar, violation_type varchar",
        [
            ("V1", "2026-01-04 10:00:00+08", "2026-01-04", "shop", "S09", "counterfeit"),  # ds − 27: in W28
            ("V2", "2026-01-03 10:00:00+08", "2026-01-03", "shop", "S10", "private_transaction"),  # ds − 28
            ("V3", "2026-01-31 10:00:00+08", "2026-01-31", "shop", "S10", "bad_service"),  # not excluding
            ("V4", "2026-01-31 23:00:00+08", "2026-01-31", "creator", "C08", "false_advertising"),
            ("V5", "2026-01-20 10:00:00+08", "2026-01-20", "creator", "C01", "counterfeit"),  # not excluding
        ],
    ),
    "intermediate.int_creators__as_of_ds": (
        "creator_id varchar, shop_id varchar, status varchar",
        [
            *[(f"C{i:02d}", None, "banned" if i == 4 else "active") for i in range(1, 10) if i != 3],
            ("C03", "S01", "active"),  # the shop's own account
        ],
    ),
    "intermediate.int_creator_shop_distribution__w28": (
        "ds date, creator_id varchar, shop_id varchar, distribution_orders bigint,"
        " distribution_gmv decimal(38, 2)",
        [
            (DS, "C01", "S01", 3, "200.00"),
            (DS, "C01", "S03", 9, "999.00"),  # S03 is not eligible: does not count
            (DS, "C02", "S02", 1, "100.00"),
            (DS, "C03", "S01", 5, "500.00"),
            (DS, "C04", "S01", 5, "500.00"),
            (DS, "C05", "S04", 5, "500.00"),
            (DS, "C06", "S01", 5, "500.00"),
            (DS, "C07", "S01", 5, "500.00"),
            (DS, "C08", "S01", 5, "500.00"),
            (DS, "C09", "S01", 1, "0.00"),
        ],
    ),
    "marts.creator_scores_daily": (
        "ds date, creator_id varchar, reputation_score decimal(5, 2), score_status varchar,"
        " effective_score decimal(5, 2)",
        [
            (DS, "C01", "80.00", "scored", "80.00"),
            (DS, "C02", "50.00", "provisional", "70.00"),  # provisional counts as 70: eligible
            *[(DS, f"C{i:02d}", "90.00", "scored", "90.00") for i in (3, 4, 5, 8, 9)],
            (DS, "C07", "69.99", "scored", "69.99"),
        ],
    ),
    "marts.product_tiers_daily": (
        "ds date, product_id varchar, tier varchar, is_selected_goods boolean, product_score decimal(5, 2),"
        " gmv decimal(18, 2)",
        [
            (DS, "P01", "L5", True, "90.00", "1000.00"),
            (DS, "P02", "L5", True, "85.00", "50.00"),
            (DS, "P03", "L4", False, "84.99", "90000.00"),
            (DS, "P04", "L5", True, "90.00", "0.00"),
        ],
    ),
}

FLOW_SELECTION = "path:seeds/flow path:models/intermediate/flow path:models/marts/flow"


@pytest.fixture(scope="module")
def flow_warehouse(tmp_path_factory):
    """A scratch warehouse with the hand-made upstream rows and the flow seeds and models built for DS."""
    from trust_dw.config import Settings
    from trust_dw.dbt_runner import build
    from trust_dw.warehouse import connect

    with pytest.MonkeyPatch.context() as env:
        # Every path under a fresh home, whatever the caller's environment points at.
        env.setenv("TRUST_DW_HOME", str(tmp_path_factory.mktemp("flow") / "dw"))
        env.delenv("TRUST_DW_WAREHOUSE", raising=False)
        settings = Settings.from_env()
        settings.ensure_dirs()
        with connect(settings) as con:
            for relation, (columns, rows) in UPSTREAM.items():
                con.execute(f"create schema if not exists {relation.split('.')[0]}")
                con.execute(f"create table {relation} ({columns})")
                if rows:
                    marks = ", ".join("?" * len(rows[0]))
                    con.executemany(f"insert into {relation} values ({marks})", rows)
        build(settings, DS, select=FLOW_SELECTION)
        yield settings


def query(settings, sql):
    import duckdb

    # Plain connect: it joins the database instance the in-process dbt run may still hold open.
    with duckdb.connect(str(settings.warehouse_path)) as con:
        return con.execute(sql).fetchall()


@pytest.mark.e2e
def test_dbt_eligibility_names_the_first_failing_rule_of_each_candidate(flow_warehouse):
    reasons = dict(
        (f"{pool}/{kind}/{rid}", reason)
        for pool, kind, rid, reason in query(
            flow_warehouse,
            """
            select pool_id, recipient_type, recipient_id, ineligible_reason
                from intermediate.int_flow_chuanliu_shops
            union all select pool_id, recipient_type, recipient_id, ineligible_reason
                from intermediate.int_flow_chuanliu_creators
            union all select pool_id, recipient_type, recipient_id, ineligible_reason
                from intermediate.int_flow_cold_start_shops
            union all select pool_id, recipient_type, recipient_id, ineligible_reason
                from intermediate.int_flow_selected_goods_products
            """,
        )
    )
    expected = {
        "chuanliu/shop/S01": None,
        "chuanliu/shop/S02": None,
        "chuanliu/shop/S03": "shop_not_active",
        "chuanliu/shop/S04": "no_distribution_gmv_w28",
        "chuanliu/shop/S05": "too_few_live_sessions_w28",
        "chuanliu/shop/S06": "no_experience_score",
        "chuanliu/shop/S07": "provisional_score",
        "chuanliu/shop/S08": "experience_score_below_min",
        "chuanliu/shop/S09": "excluding_ruling",
        "chuanliu/shop/S10": None,  # score exactly 75; its private_transaction ruling is 28 days old
        "chuanliu/creator/C01": None,
        "chuanliu/creator/C02": None,
        "chuanliu/creator/C03": "shop_account",
        "chuanliu/creator/C04": "creator_not_active",
        "chuanliu/creator/C05": "no_distribution_to_eligible_shop",
        "chuanliu/creator/C06": "no_reputation_score",
        "chuanliu/creator/C07": "reputation_score_below_min",
        "chuanliu/creator/C08": "excluding_ruling",
        "chuanliu/creator/C09": "zero_weight",
        "cold_start/shop/N01": None,
        "cold_start/shop/N02": None,
        "cold_start/shop/N03": "shop_not_active",
        "cold_start/shop/N04": "age_out_of_range",
        "cold_start/shop/N05": "age_out_of_range",
        "cold_start/shop/N06": "fans_at_open_above_max",
        "cold_start/shop/N07": "too_few_live_sessions_w7",
        "cold_start/shop/N08": "quality_refund_rate_above_max",
        "cold_start/shop/N09": None,
        "selected_goods/product/P01": None,
        "selected_goods/product/P02": None,
        "selected_goods/product/P03": "not_selected_goods",
        "selected_goods/product/P04": "zero_weight",
    }
    # the new shops are chuanliu candidates too (they have live sessions), the old ones cold_start candidates
    expected |= {f"chuanliu/shop/N{i:02d}": "no_distribution_gmv_w28" for i in (1, 2, 4, 5, 6, 8, 9)}
    expected |= {"chuanliu/shop/N03": "shop_not_active", "cold_start/shop/S03": "shop_not_active"}
    expected |= {f"cold_start/shop/S{i:02d}": "age_out_of_range" for i in range(1, 11) if i != 3}
    assert reasons == expected


@pytest.mark.e2e
def test_dbt_recipients_carry_the_exact_weights(flow_warehouse):
    got = {
        (pool, rid): Fraction(num) / den
        for pool, rid, num, den in query(
            flow_warehouse,
            "select pool_id, recipient_id, weight_numerator, weight_denominator"
            " from intermediate.int_flow_recipients",
        )
    }
    assert got == {
        ("chuanliu", "S01"): Fraction(640),  # 1000 × 0.80²
        ("chuanliu", "S02"): Fraction(405),  # 500 × 0.90²
        ("chuanliu", "S10"): Fraction("56.25"),  # 100 × 0.75²
        ("chuanliu", "C01"): Fraction(128),  # 200 (S01 only; S03 is not eligible) × 0.80²
        ("chuanliu", "C02"): Fraction(49),  # 100 × 0.70² (provisional counts as 70)
        ("cold_start", "N01"): Fraction(1),  # (90 − 0) / 90
        ("cold_start", "N02"): Fraction(1, 90),  # (90 − 89) / 90
        ("cold_start", "N09"): Fraction(1, 2),  # (90 − 45) / 90
        ("selected_goods", "P01"): Fraction(90_000),  # 90 × 1000
        ("selected_goods", "P02"): Fraction(4_250),  # 85 × 50
    }


@pytest.mark.e2e
def test_dbt_flow_allocation_daily_is_published_exactly(flow_warehouse):
    rows = query(
        flow_warehouse,
        """
        select pool_id, recipient_type, recipient_id, weight, impressions, share, rank, capped, effective_ds
        from marts.flow_allocation_daily where ds = date '2026-01-31'
        order by pool_id, recipient_type = 'reserve', recipient_type, rank
        """,
    )
    # Every weight is far above its share of the cap: all recipients are capped (chuanliu shops: 5% of
    # 115,068,492 → 5,753,424; creators: 5% of 49,315,069 → 2,465,753; cold_start: 2% of 54,794,520 →
    # 1,095,890; selected_goods: 1% of 27,397,260 → 273,972) and the rest is each pool's reserve.
    shop_cap, creator_cap, cold_cap, goods_cap = 5_753_424, 2_465_753, 1_095_890, 273_972
    assert [(p, t, r, i, k, c) for p, t, r, _, i, _, k, c, _ in rows] == [
        ("chuanliu", "creator", "C01", creator_cap, 1, True),
        ("chuanliu", "creator", "C02", creator_cap, 2, True),
        ("chuanliu", "shop", "S01", shop_cap, 1, True),
        ("chuanliu", "shop", "S02", shop_cap, 2, True),
        ("chuanliu", "shop", "S10", shop_cap, 3, True),
        ("chuanliu", "reserve", "reserve", CHUANLIU - 3 * shop_cap - 2 * creator_cap, None, False),
        ("cold_start", "shop", "N01", cold_cap, 1, True),
        ("cold_start", "shop", "N02", cold_cap, 2, True),
        ("cold_start", "shop", "N09", cold_cap, 3, True),
        ("cold_start", "reserve", "reserve", 54_794_520 - 3 * cold_cap, None, False),
        ("selected_goods", "product", "P01", goods_cap, 1, True),
        ("selected_goods", "product", "P02", goods_cap, 2, True),
        ("selected_goods", "reserve", "reserve", 27_397_260 - 2 * goods_cap, None, False),
    ]
    weights = {r: w for _, _, r, w, *_ in rows}
    assert weights["N02"] == Decimal("0.0111111111")  # 1/90 for display; the split used the exact value
    assert weights["S10"] == Decimal("56.2500000000") and weights["reserve"] is None
    assert {row[-1] for row in rows} == {date(2026, 2, 1)}
    shares = {r: s for _, _, r, _, _, s, *_ in rows}
    assert shares["S01"] == Decimal("0.034999996137")  # 5,753,424 / 164,383,561


@pytest.mark.e2e
def test_dbt_keeps_every_ds_and_a_rerun_gives_the_same_rows(flow_warehouse):
    from trust_dw.dbt_runner import build

    every_column = "select * from marts.flow_allocation_daily where ds = date '2026-01-31' order by all"
    before = query(flow_warehouse, every_column)
    models = "path:models/intermediate/flow path:models/marts/flow"
    build(flow_warehouse, "2026-01-30", select=models)  # nobody is eligible that day: only reserves
    build(flow_warehouse, DS, select=models)  # rerun of DS
    assert query(flow_warehouse, every_column) == before
    assert query(
        flow_warehouse,
        "select pool_id, recipient_type, impressions, share from marts.flow_allocation_daily"
        " where ds = date '2026-01-30' order by pool_id",
    ) == [
        ("chuanliu", "reserve", CHUANLIU, Decimal("1.000000000000")),
        ("cold_start", "reserve", 54_794_520, Decimal("1.000000000000")),
        ("selected_goods", "reserve", 27_397_260, Decimal("1.000000000000")),
    ]
