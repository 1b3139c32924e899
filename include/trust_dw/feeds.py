"""The landing contract (DESIGN §3): every feed, its columns, types, enums and ranges.

This module is the single source of truth shared by the generator (which writes these files),
the ingest (which validates and types them into ``raw.<feed>``) and the dbt sources (which read
``raw.<feed>``). Change a feed here and all three follow.

Types are DuckDB type names; ``pa_type`` gives the matching Arrow type for the typed raw tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pyarrow as pa

# Logical column types (DuckDB spelling). Timestamps arrive as ISO 8601 with an offset.
VARCHAR = "VARCHAR"
BOOLEAN = "BOOLEAN"
INTEGER = "INTEGER"
BIGINT = "BIGINT"
DECIMAL = "DECIMAL(18,2)"
DECIMAL_RATE = "DECIMAL(9,4)"
DATE = "DATE"
TIMESTAMPTZ = "TIMESTAMPTZ"

_ARROW_TYPES: dict[str, pa.DataType] = {
    VARCHAR: pa.string(),
    BOOLEAN: pa.bool_(),
    INTEGER: pa.int32(),
    BIGINT: pa.int64(),
    DECIMAL: pa.decimal128(18, 2),
    DECIMAL_RATE: pa.decimal128(9, 4),
    DATE: pa.date32(),
    TIMESTAMPTZ: pa.timestamp("us", tz="UTC"),
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = True
    enum: tuple[str, ...] | None = None
    min: Decimal | int | None = None
    max: Decimal | int | None = None
    # For `;`-separated multi-valued enums (providers.capabilities).
    multi_enum: bool = False

    @property
    def pa_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.type]


@dataclass(frozen=True)
class Feed:
    name: str
    # cdc: change rows, same key again on later days (orders)
    # snapshot: full master snapshot every day (shops, products, creators, providers, links)
    # daily: one row per key per day (content_metrics); append: append-only events (violations)
    kind: str
    key: tuple[str, ...]
    columns: tuple[Column, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"feed {self.name!r} has no column {name!r}")

    @property
    def raw_table(self) -> str:
        """The typed raw table in the working DuckDB file."""
        return f"raw.{self.name}"

    def arrow_schema(self) -> pa.Schema:
        """Schema of ``raw.<feed>``: the feed's typed columns plus the lineage columns."""
        fields = [pa.field(c.name, c.pa_type, nullable=not c.required) for c in self.columns]
        fields += [pa.field(n, t, nullable=False) for n, t in LINEAGE_COLUMNS]
        return pa.schema(fields)


# Lineage columns appended to every raw table: the landing partition, the file and its line.
LINEAGE_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("_ds", pa.date32()),
    ("_source_file", pa.string()),
    ("_source_line", pa.int64()),
)

CHANNELS = ("live_self", "live_distribution", "video_distribution", "shelf")
DISTRIBUTION_CHANNELS = ("live_distribution", "video_distribution")
REFUND_TYPES = ("refund_only", "return_refund")
REFUND_REASONS = ("quality", "not_as_described", "logistics", "no_reason", "other")
BRAND_LEVELS = ("flagship", "authorized", "white_label")
SHOP_STATUSES = ("active", "suspended", "closed")
PRODUCT_STATUSES = ("on_sale", "off_sale", "banned")
CREATOR_STATUSES = ("active", "banned")
CONTENT_TYPES = ("live", "short_video")
SUBJECT_TYPES = ("shop", "creator", "product")
VIOLATION_TYPES = ("false_advertising", "private_transaction", "counterfeit", "bad_service", "other")
PROVIDER_TYPES = ("strategic_core", "core_base", "local_quality", "brand_quality", "merchant_recruiter")
CAPABILITIES = ("live_ops", "creator_incubation", "fulfilment", "supply_chain", "traffic_marketing")
PROVIDER_STATUSES = ("active", "suspended", "exited")

ZERO = Decimal("0")


def _ts(name: str, required: bool = True) -> Column:
    return Column(name, TIMESTAMPTZ, required=required)


def _count(name: str, required: bool = True) -> Column:
    return Column(name, BIGINT, required=required, min=0)


FEEDS: dict[str, Feed] = {
    f.name: f
    for f in (
        Feed(
            "orders",
            kind="cdc",
            key=("order_id", "updated_at"),
            columns=(
                Column("order_id", VARCHAR),
                _ts("updated_at"),
                Column("shop_id", VARCHAR),
                Column("product_id", VARCHAR),
                Column("creator_id", VARCHAR, required=False),
                Column("buyer_id", VARCHAR),
                Column("channel", VARCHAR, enum=CHANNELS),
                Column("is_fan_order", BOOLEAN),
                Column("quantity", INTEGER, min=1),
                Column("unit_price", DECIMAL, min=ZERO),
                Column("pay_amount", DECIMAL, min=ZERO),
                _ts("paid_at"),
                _ts("cancelled_at", False),
                _ts("shipped_at", False),
                _ts("collected_at", False),
                _ts("delivered_at", False),
                _ts("refund_requested_at", False),
                Column("refund_type", VARCHAR, required=False, enum=REFUND_TYPES),
                Column("refund_reason", VARCHAR, required=False, enum=REFUND_REASONS),
                _ts("refund_completed_at", False),
                _ts("dispute_opened_at", False),
                _ts("reviewed_at", False),
                Column("review_rating", INTEGER, required=False, min=1, max=5),
            ),
        ),
        Feed(
            "shops",
            kind="snapshot",
            key=("shop_id",),
            columns=(
                Column("shop_id", VARCHAR),
                Column("shop_name", VARCHAR),
                Column("category", VARCHAR),
                Column("brand_id", VARCHAR, required=False),
                Column("brand_level", VARCHAR, enum=BRAND_LEVELS),
                Column("opened_at", DATE),
                Column("fans_at_open", INTEGER, min=0),
                Column("fans", INTEGER, min=0),
                Column("status", VARCHAR, enum=SHOP_STATUSES),
            ),
        ),
        Feed(
            "products",
            kind="snapshot",
            key=("product_id",),
            columns=(
                Column("product_id", VARCHAR),
                Column("shop_id", VARCHAR),
                Column("category", VARCHAR),
                Column("brand_id", VARCHAR, required=False),
                Column("title", VARCHAR),
                Column("list_price", DECIMAL, min=ZERO),
                Column("commission_rate", DECIMAL_RATE, min=ZERO, max=Decimal("0.9")),
                _ts("created_at"),
                Column("status", VARCHAR, enum=PRODUCT_STATUSES),
            ),
        ),
        Feed(
            "creators",
            kind="snapshot",
            key=("creator_id",),
            columns=(
                Column("creator_id", VARCHAR),
                Column("nickname", VARCHAR),
                Column("fans", INTEGER, min=0),
                Column("shop_id", VARCHAR, required=False),
                _ts("created_at"),
                Column("status", VARCHAR, enum=CREATOR_STATUSES),
            ),
        ),
        Feed(
            "content_metrics",
            kind="daily",
            key=("metric_date", "content_id"),
            columns=(
                Column("metric_date", DATE),
                Column("content_id", VARCHAR),
                Column("content_type", VARCHAR, enum=CONTENT_TYPES),
                Column("creator_id", VARCHAR),
                _count("impressions"),
                _count("opens"),
                _count("plays"),
                _count("completions"),
                _count("likes"),
                _count("comments"),
                _count("shares"),
                _count("watch_seconds"),
                Column("live_minutes", INTEGER, required=False, min=0),
                _count("attributed_orders"),
                Column("attributed_gmv", DECIMAL, min=ZERO),
            ),
        ),
        Feed(
            "violations",
            kind="append",
            key=("violation_id",),
            columns=(
                Column("violation_id", VARCHAR),
                _ts("ruled_at"),
                Column("subject_type", VARCHAR, enum=SUBJECT_TYPES),
                Column("subject_id", VARCHAR),
                Column("violation_type", VARCHAR, enum=VIOLATION_TYPES),
                Column("description", VARCHAR, required=False),
            ),
        ),
        Feed(
            "providers",
            kind="snapshot",
            key=("provider_id",),
            columns=(
                Column("provider_id", VARCHAR),
                Column("provider_name", VARCHAR),
                Column("provider_type", VARCHAR, enum=PROVIDER_TYPES),
                Column("capabilities", VARCHAR, enum=CAPABILITIES, multi_enum=True),
                Column("admitted_at", DATE),
                Column("status", VARCHAR, enum=PROVIDER_STATUSES),
                _ts("updated_at"),
            ),
        ),
        Feed(
            "provider_shop_links",
            kind="snapshot",
            key=("provider_id", "shop_id", "start_date"),
            columns=(
                Column("provider_id", VARCHAR),
                Column("shop_id", VARCHAR),
                Column("start_date", DATE),
                Column("end_date", DATE, required=False),
            ),
        ),
    )
}

FEED_NAMES: tuple[str, ...] = tuple(FEEDS)

# The business time zone (DESIGN §2): ds is a date in Asia/Shanghai; ds_end = ds + 1 00:00 +08:00.
BUSINESS_TZ = "Asia/Shanghai"
