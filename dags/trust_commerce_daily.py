"""trust_commerce_daily: one business date (ds) from landing files to published scores, tiers and flow.

    wait_<feed> (sensor, per feed) → ingest_<feed> → dbt → validate (GX gate) → publish (Assets)

ds = the logical date's calendar date in Asia/Shanghai (the run for D starts after D+1 00:00 +08:00).
dbt runs as one task (`dbt_build`, default) or, with TRUST_DW_DBT_TASKS=watcher, as a Cosmos task group in
watcher mode (one `dbt build`, one Airflow task per dbt node). Every task that opens the working DuckDB
file runs in the pool `duckdb_writer` (1 slot).

Configuration only: every task calls one function of trust_dw.pipeline, which `trust-dw run` calls too,
recorded in the run ledger (trust_dw.run_ledger); a task that failed for good alerts (trust_dw.alerts).
See docs/airflow.md (ds mapping, sensors, pool, retries, backfills, the dbt modes and their costs).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, dag, task
from trust_dw import pipeline, run_ledger
from trust_dw.alerts import on_failure_callback
from trust_dw.config import Settings
from trust_dw.feeds import FEED_NAMES
from trust_dw.publish import PUBLISHED_TABLES, asset_uri

SETTINGS = Settings.from_env()
POLICY = pipeline.RunPolicy.from_env()
# The ds of the run (YYYY-MM-DD, Asia/Shanghai), rendered by Airflow into each task's arguments.
DS = "{{ business_ds(logical_date, dag_run.run_after) }}"
PUBLISHED_ASSETS = [Asset(uri=asset_uri(table), name=table) for table in PUBLISHED_TABLES]


def dbt_watcher_group():
    """The dbt project as a Cosmos task group, watcher mode (TRUST_DW_DBT_TASKS=watcher)."""
    import shutil
    import sys
    from pathlib import Path

    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
    from trust_dw.dbt_runner import dbt_env

    # dbt runs as its own process (the venv's executable): no DuckDB handle outlives it in the worker.
    dbt_executable = shutil.which("dbt") or str(Path(sys.executable).with_name("dbt"))
    return DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(
            SETTINGS.dbt_project_dir, env_vars=dbt_env(SETTINGS), install_dbt_deps=False
        ),
        profile_config=ProfileConfig(
            profile_name="trust_dw",
            target_name="working",
            profiles_yml_filepath=SETTINGS.dbt_project_dir / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=dbt_executable,
            # The producer runs the one `dbt build`: first in the writer pool, never retried by Airflow.
            setup_operator_args={"retries": 0, "priority_weight": 100, "weight_rule": "absolute"},
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_LS,  # cached by Cosmos until a file of the dbt project changes
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=dbt_executable,
            test_behavior=TestBehavior.AFTER_EACH,
        ),
        operator_args={
            "vars": {"ds": DS},
            "pool": pipeline.WRITER_POOL,  # a watcher re-run (cleared task) runs dbt for its node: a writer
            "install_deps": False,
            # Watchers poke the producer's results in reschedule mode: no slot held between pokes, and
            # `airflow dags test` (one process, no triggerer) interleaves them with the producer.
            "deferrable": False,
            "mode": "reschedule",
            "poke_interval": POLICY.dbt_poke_seconds,
            "timeout": POLICY.dbt_timeout_seconds,
            "retries": 0,
        },
    )


@dag(
    dag_id="trust_commerce_daily",
    description="Landing feeds → ingest → dbt → Great Expectations gate → publish, for one business date",
    schedule=CronDataIntervalTimetable("@daily", timezone=pipeline.BUSINESS_TZ),
    start_date=pendulum.datetime(2026, 1, 1, tz=pipeline.BUSINESS_TZ),
    catchup=POLICY.catchup,  # TRUST_DW_CATCHUP=true: the scheduler creates every missed ds since start_date
    max_active_runs=1,
    user_defined_macros={"business_ds": pipeline.business_ds},
    # every task: a structured alert (logs/alerts.jsonl + webhook) once it has failed for good
    default_args={"owner": "data-engineering", "retries": 0, "on_failure_callback": on_failure_callback},
    tags=["trust-dw"],
    doc_md=__doc__,
)
def trust_commerce_daily():
    @task.sensor(**POLICY.sensor_args())
    def wait(feed: str, business_date: str) -> bool:
        return pipeline.feed_ready(SETTINGS, feed, business_date)

    @task(pool=pipeline.WRITER_POOL, **POLICY.retry_args())
    def ingest(feed: str, business_date: str) -> dict:
        load = run_ledger.airflow_stage(SETTINGS, "ingest", pipeline.ingest_feed, feed=feed, ds=business_date)
        return pipeline.load_summary(load)

    @task(pool=pipeline.WRITER_POOL, retries=0)
    def dbt_build(business_date: str) -> dict:
        build = run_ledger.airflow_stage(SETTINGS, "dbt", pipeline.build_models, ds=business_date)
        return pipeline.dbt_summary(build)

    @task(pool=pipeline.WRITER_POOL, retries=0)
    def validate(business_date: str) -> dict:
        gate = run_ledger.airflow_stage(SETTINGS, "gate", pipeline.validate, ds=business_date)
        return pipeline.gate_summary(gate)

    @task(pool=pipeline.WRITER_POOL, outlets=PUBLISHED_ASSETS, **POLICY.retry_args())
    def publish(business_date: str, run_id: str | None = None, outlet_events=None) -> dict:
        result = run_ledger.airflow_stage(
            SETTINGS, "publish", pipeline.publish, ds=business_date, run_id=run_id
        )
        for asset in PUBLISHED_ASSETS:
            outlet_events[asset].extra = result.asset_extra(asset.name)
        return {part.table: part.rows for part in result.partitions}

    dbt = dbt_watcher_group() if POLICY.dbt_tasks == "watcher" else dbt_build(DS)
    for feed in FEED_NAMES:
        ready = wait.override(task_id=f"wait_{feed}")(feed, DS)
        ready >> ingest.override(task_id=f"ingest_{feed}")(feed, DS) >> dbt
    dbt >> validate(DS) >> publish(DS)


trust_commerce_daily()
