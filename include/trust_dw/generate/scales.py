"""The scales of the generated data (DESIGN §10) and the generator's calibration knobs.

These are simulation parameters of the synthetic upstream systems, not business constants of the
warehouse: the warehouse never reads them (its weights, thresholds and pools live in dbt seeds).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    shops: int
    products: int
    creators: int
    providers: int
    orders_per_day: int
    content_per_day: int


SCALES: dict[str, Scale] = {
    s.name: s
    for s in (
        Scale("tiny", 200, 2_000, 500, 10, 2_000, 1_500),
        Scale("small", 2_000, 20_000, 5_000, 50, 50_000, 15_000),
        Scale("medium", 20_000, 200_000, 50_000, 300, 1_000_000, 150_000),
        Scale("large", 200_000, 2_000_000, 500_000, 2_000, 10_000_000, 1_500_000),
    )
}

# Orders are generated with their whole lifecycle when paid; every event falls within this many days
# of paid_at, so the CDC drop of day D only needs the cohorts paid in D-LIFECYCLE_DAYS .. D.
LIFECYCLE_DAYS = 35

# Categories: (id, Chinese label used in names, typical list price in CNY, share of shops).
CATEGORIES: tuple[tuple[str, str, float, float], ...] = (
    ("beauty", "美妆", 180.0, 0.14),
    ("apparel", "服饰", 160.0, 0.18),
    ("food", "食品", 60.0, 0.16),
    ("home", "家居", 120.0, 0.10),
    ("digital", "数码", 900.0, 0.06),
    ("appliances", "家电", 1200.0, 0.04),
    ("mother_baby", "母婴", 150.0, 0.07),
    ("jewelry", "珠宝", 700.0, 0.04),
    ("sports", "运动", 220.0, 0.06),
    ("books", "图书", 45.0, 0.04),
    ("pets", "宠物", 90.0, 0.05),
    ("health", "保健", 200.0, 0.06),
)


@dataclass(frozen=True)
class Calibration:
    """Knobs tuned so the §10 targets hold and the §5 scores spread (see docs/generator.md)."""

    # Shop GMV shares follow a Zipf-Mandelbrot law over a random ranking: (rank + r0) ** -alpha.
    shop_alpha: float = 1.15
    shop_r0: float = 2.5
    shop_sigma: float = 0.8  # lognormal noise on the body's shares (so ranks are not a perfect Zipf)
    # Share of shops that opened recently (≤ 75 days before start, or up to 45 days after it).
    new_shop_share: float = 0.08
    new_shop_zero_fans_share: float = 0.75
    # Target share of GMV sold by brand shops (flagship / authorized), DESIGN §10: ≈ 40 %.
    brand_gmv_share: float = 0.40
    # Shares of shops that have their own broadcasting (creator) account.
    shop_account_share: float = 0.45
    # Distributing creators: GMV shares (rank + r0) ** -alpha.
    creator_alpha: float = 1.1
    creator_r0: float = 5.0
    # Minority of bad shops (quality latent drawn far worse), DESIGN §10.
    bad_shop_share: float = 0.08
    # Buyers: population = orders/day * 30 / this; fan buyers re-buy `repeat` times per 30 days.
    orders_per_buyer_30d: float = 2.2
    nonfan_buyer_skew: float = 1.6
