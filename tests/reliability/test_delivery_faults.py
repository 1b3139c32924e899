"""Invariance under delivery faults (fixture ``faulty_history``) and re-delivery of a corrected drop
(fixture ``redelivery``).

The reference's seed generated again with exact duplicate CDC rows (in the same file, and re-sent from the day
before) and replayed older CDC rows (late rows carrying an older ``updated_at`` than a state already loaded),
and run the same way: every published table of every ds must be byte-identical to the clean run's.

Re-delivery: from the clean state before the last ds, that ds's ``orders`` and ``shops`` drops first land
wrong (amounts off, orders that never existed, changes stamped later than the truth, shops suspended by
mistake) and the ds is published. Upstream then drops the correct files in the same folders and the ds runs
again: its raw partitions hold exactly the corrected rows and every published table equals the run that only
ever saw them.
"""

from __future__ import annotations

import duckdb
import pytest
from reliability_support import PUBLISHED, assert_same_publication, published_state, record
from wrong_drops import GHOST_PREFIX

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

DS = PUBLISHED[-1]


def test_the_faulty_landing_really_carries_duplicates_and_late_rows(faulty_history) -> None:
    assert faulty_history.injected["duplicates"] > 0
    assert faulty_history.injected["late"] > 0
    record("delivery: duplicate CDC rows injected", faulty_history.injected["duplicates"])
    record("delivery: late (older updated_at) CDC rows injected", faulty_history.injected["late"])


def test_duplicates_and_late_rows_change_no_published_byte(faulty_history, reference) -> None:
    """Every table of every published ds is byte-identical to the clean run's (manifests alike)."""
    compared = assert_same_publication(faulty_history.home, reference.last, PUBLISHED)
    record("delivery: partitions compared byte for byte with the clean run", compared)


def test_the_wrong_drop_was_published_and_differed(redelivery, reference) -> None:
    """The spoiled drop was not a no-op: what it published differed from the truth."""
    truth = published_state(reference.last)
    wrong = redelivery.wrong_state
    differing = [t for t in truth.partitions if wrong.partitions[t][DS] != truth.partitions[t][DS]]
    assert "shop_scores_daily" in differing and "product_tiers_daily" in differing, differing


def _working(redelivery, sql: str, params: list | None = None):
    with duckdb.connect(str(redelivery.home / "warehouse" / "trust_dw.duckdb"), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_a_redelivery_replaces_the_raw_partition_exactly(redelivery) -> None:
    files = dict(
        _working(
            redelivery,
            "select source_file, sha256 from ingest.loaded_files "
            "where ds = cast(? as date) and feed in ('orders', 'shops')",
            [DS],
        )
    )
    [(ghosts,)] = _working(
        redelivery, f"select count(*) from raw.orders where order_id like '{GHOST_PREFIX}%'"
    )
    [(rows_read, rows_loaded, rows_quarantined, in_raw)] = _working(
        redelivery,
        "select rows_read, rows_loaded, rows_quarantined, "
        "(select count(*) from raw.orders where _ds = cast(? as date)) "
        "from ingest.load_ledger where feed = 'orders' and ds = cast(? as date)",
        [DS, DS],
    )
    assert files == redelivery.corrected_files
    assert ghosts == 0
    assert rows_read == rows_loaded + rows_quarantined and in_raw == rows_loaded


def test_no_order_of_the_wrong_drop_survives_in_the_facts(redelivery) -> None:
    [(ghosts,)] = _working(
        redelivery, f"select count(*) from core.fct_orders where order_id like '{GHOST_PREFIX}%'"
    )
    assert ghosts == 0


def test_the_redelivered_ds_equals_a_run_that_only_saw_the_corrected_files(redelivery, reference) -> None:
    compared = assert_same_publication(redelivery.home, reference.last, (DS,))
    assert published_state(redelivery.home).serving_rows == published_state(reference.last).serving_rows
    record("delivery: re-delivered partitions equal to the corrected-only run", compared)
