"""trust_commerce_consumers: a downstream consumer scheduled on data, not on the clock (DESIGN §9).

Runs when trust_commerce_daily has published every table (one Asset per published table, all required),
and checks what a consumer must check before using a snapshot: _SUCCESS, the manifest, sha256 and row
counts of the partitions the Asset events name. Configuration only: the logic is
trust_dw.publish.check_published_snapshots.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task
from trust_dw.config import Settings
from trust_dw.publish import PUBLISHED_TABLES, asset_uri, check_published_snapshots

SETTINGS = Settings.from_env()
PUBLISHED_ASSETS = [Asset(uri=asset_uri(table), name=table) for table in PUBLISHED_TABLES]


@dag(
    dag_id="trust_commerce_consumers",
    description="Verify each day's published snapshots (manifest, sha256, rows, _SUCCESS) when they land",
    schedule=PUBLISHED_ASSETS,
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data-engineering", "retries": 0},
    tags=["trust-dw", "consumer"],
    doc_md=__doc__,
)
def trust_commerce_consumers():
    @task
    def check_snapshots(triggering_asset_events=None) -> dict:
        return check_published_snapshots(SETTINGS, triggering_asset_events)

    check_snapshots()


trust_commerce_consumers()
