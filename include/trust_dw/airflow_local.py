"""A local Airflow on SQLite for ``make demo`` and the end-to-end tests: the real DAG, run by Airflow.

- ``AIRFLOW_HOME = $TRUST_DW_HOME/airflow`` (metadata DB ``airflow.db``, logs, Cosmos cache);
  the dags folder is the repository's ``dags/``; examples off; every telemetry off.
- :meth:`LocalAirflow.init` runs ``airflow db migrate`` and creates the pool ``duckdb_writer`` (1 slot)
  once; a marker file makes later calls instant.
- :meth:`LocalAirflow.run_dag` runs ``airflow dags test trust_commerce_daily <ds>`` in a subprocess (one
  process runs every task in dependency order: no scheduler, no executor), writes its output to
  ``$TRUST_DW_HOME/logs/airflow/``, and reads the run's outcome back from the metadata DB.

Only for a laptop or CI: production runs the same DAG under docker-compose (docs/deploy.md).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from trust_dw.config import Settings
from trust_dw.pipeline import BUSINESS_TZ, WRITER_POOL, check_ds

DAG_ID = "trust_commerce_daily"
_MARKER = ".trust_dw_initialised.json"

# Telemetry off everywhere (DESIGN §11): Airflow (Scarf), Cosmos, dbt, GX.
TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1",
    "SCARF_ANALYTICS": "false",
    "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "GX_ANALYTICS_ENABLED": "False",
}

# Local-run policy (overridable from the caller's environment): the landing data is already there when
# the demo runs, so sensors poke often and give up soon; retries wait seconds, not minutes.
LOCAL_POLICY = {
    # Parsing the DAG runs `dbt ls` when the dbt project changed (Cosmos caches it otherwise): ~40 s on
    # 2 busy cores, more than Airflow's default 30 s import timeout.
    "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "600",
    "TRUST_DW_SENSOR_POKE_SECONDS": "2",
    "TRUST_DW_SENSOR_TIMEOUT_SECONDS": "60",
    "TRUST_DW_RETRY_DELAY_SECONDS": "1",
    "TRUST_DW_MAX_RETRY_DELAY_SECONDS": "5",
    "TRUST_DW_DBT_POKE_SECONDS": "1",
}


class AirflowCommandError(RuntimeError):
    """An ``airflow`` CLI call of the harness failed; the message names the command and its log."""


@dataclass
class DagRunOutcome:
    """What ``airflow dags test`` did for one ds, read back from the metadata DB."""

    dag_id: str
    ds: str
    returncode: int
    seconds: float
    log_path: Path
    run_id: str | None = None
    state: str | None = None
    task_states: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.state == "success"

    def tasks_in(self, *states: str) -> list[str]:
        return sorted(t for t, s in self.task_states.items() if s in states)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])


def logical_date(ds: str) -> str:
    """The logical date of the run that processes ds: ds 00:00 in Asia/Shanghai (see trust_dw.pipeline)."""
    return f"{check_ds(ds)}T00:00:00+08:00"


class LocalAirflow:
    """One local Airflow home under ``settings.home / "airflow"``."""

    def __init__(self, settings: Settings, extra_env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.home = settings.home / "airflow"
        self.db_path = self.home / "airflow.db"
        self.logs_dir = settings.logs_dir / "airflow"
        self.extra_env = dict(extra_env or {})

    # --- environment -------------------------------------------------------------------------------
    @property
    def dags_folder(self) -> Path:
        return self.settings.repo_root / "dags"

    def env(self) -> dict[str, str]:
        """The environment of every ``airflow`` subprocess: this home, this TRUST_DW_HOME, no telemetry."""
        env = dict(os.environ)
        for key, value in LOCAL_POLICY.items():
            env.setdefault(key, value)
        bin_dir = str(Path(sys.executable).parent)  # the venv's airflow and dbt executables
        env.update(
            {
                "PATH": os.pathsep.join([bin_dir, env.get("PATH", "")]),
                "TRUST_DW_HOME": str(self.settings.home),
                "TRUST_DW_REPO": str(self.settings.repo_root),
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DEFAULT_TIMEZONE": BUSINESS_TZ,
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.db_path}",
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
                "AIRFLOW__COSMOS__CACHE_DIR": str(self.home / "cosmos_cache"),
                **TELEMETRY_OFF,
            }
        )
        env.update(self.extra_env)
        return env

    def airflow(self, *args: str, log_name: str) -> subprocess.CompletedProcess:
        """Run ``airflow <args>`` with this home; output goes to ``logs/airflow/<log_name>.log``."""
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.logs_dir / f"{log_name}.log"
        command = [str(Path(sys.executable).with_name("airflow")), *args]
        with log_path.open("w", encoding="utf-8") as log:
            log.write(f"$ {' '.join(command)}\n")
            log.flush()
            return subprocess.run(
                command, env=self.env(), stdout=log, stderr=subprocess.STDOUT, cwd=self.settings.home
            )

    # --- one-time setup ------------------------------------------------------------------------------
    def _fingerprint(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"airflow": version("apache-airflow"), "pool": f"{WRITER_POOL}=1", "db": str(self.db_path)}

    def is_initialised(self) -> bool:
        marker = self.home / _MARKER
        if not (marker.is_file() and self.db_path.is_file()):
            return False
        try:
            return json.loads(marker.read_text(encoding="utf-8")) == self._fingerprint()
        except ValueError:
            return False

    def init(self) -> bool:
        """Migrate the metadata DB and create the writer pool, unless already done. True if it did work."""
        if self.is_initialised():
            return False
        self.home.mkdir(parents=True, exist_ok=True)
        self.settings.ensure_dirs()
        steps = (
            (("db", "migrate"), "db_migrate"),
            (("pools", "set", WRITER_POOL, "1", "one writer of the working DuckDB file"), "pools_set"),
        )
        for args, log_name in steps:
            done = self.airflow(*args, log_name=log_name)
            if done.returncode != 0:
                raise AirflowCommandError(
                    f"`airflow {' '.join(args)}` failed (exit {done.returncode}); "
                    f"see {self.logs_dir / (log_name + '.log')}"
                )
        (self.home / _MARKER).write_text(json.dumps(self._fingerprint()), encoding="utf-8")
        return True

    # --- running the DAG -----------------------------------------------------------------------------
    def run_dag(self, ds: str | date, dag_id: str = DAG_ID) -> DagRunOutcome:
        """``airflow dags test <dag_id> <ds 00:00 +08:00>``: the whole DAG for ds, in one process."""
        ds = check_ds(ds)
        self.init()
        started = time.perf_counter()
        done = self.airflow("dags", "test", dag_id, logical_date(ds), log_name=f"dags_test_{dag_id}_{ds}")
        outcome = DagRunOutcome(
            dag_id=dag_id,
            ds=ds,
            returncode=done.returncode,
            seconds=time.perf_counter() - started,
            log_path=self.logs_dir / f"dags_test_{dag_id}_{ds}.log",
        )
        found = self.run_of(ds, dag_id)
        if found is not None:
            outcome.run_id, outcome.state = found
            outcome.task_states = self.task_states(dag_id, outcome.run_id)
        return outcome

    # --- reading the metadata DB (SQLite, read-only) ---------------------------------------------
    def _query(self, sql: str, params: tuple) -> list[tuple]:
        if not self.db_path.is_file():
            return []
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True) as con:
            return con.execute(sql, params).fetchall()

    def run_of(self, ds: str, dag_id: str = DAG_ID) -> tuple[str, str] | None:
        """(run_id, state) of the newest run of ``dag_id`` whose logical date is ds 00:00 +08:00."""
        instant = datetime.fromisoformat(logical_date(ds)).astimezone(UTC)
        rows = self._query(
            "select run_id, state from dag_run where dag_id = ? and logical_date = ? "
            "order by id desc limit 1",
            (dag_id, instant.strftime("%Y-%m-%d %H:%M:%S.%f")),
        )
        return rows[0] if rows else None

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        rows = self._query(
            "select task_id, state from task_instance where dag_id = ? and run_id = ?", (dag_id, run_id)
        )
        return {task_id: state or "none" for task_id, state in rows}
