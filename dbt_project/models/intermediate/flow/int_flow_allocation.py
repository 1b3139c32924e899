"""The day's flow allocation (DESIGN §6), computed exactly by trust_dw.allocation.

A Python model because the split needs exact rational arithmetic (DuckDB's DECIMAL division returns
DOUBLE and DECIMAL stops at 38 digits) and an ordered, stateful hand-out of the extra units; the published,
contracted table is the SQL model marts/flow/flow_allocation_daily that reads this one.
"""

from dataclasses import fields

from trust_dw.allocation import PoolPart, Recipient, allocation_table


def records(relation, cls):
    """The rows of a DuckDB relation as ``cls`` instances (columns picked by the dataclass's field names)."""
    names = [f.name for f in fields(cls)]
    return [cls(*values) for values in relation.project(", ".join(names)).fetchall()]


def model(dbt, session):
    dbt.config(materialized="table")
    pool_parts = dbt.ref("int_flow_pool_parts")
    days = sorted({ds for (ds,) in pool_parts.project("ds").fetchall()})
    if len(days) != 1:
        raise ValueError(f"int_flow_pool_parts must hold exactly one ds, found {days}")
    return allocation_table(
        days[0], records(pool_parts, PoolPart), records(dbt.ref("int_flow_recipients"), Recipient)
    )
