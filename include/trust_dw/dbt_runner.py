"""Run dbt for one business date, in-process (dbt's programmatic ``dbtRunner``).

Every invocation gets the project's paths from :class:`~trust_dw.config.Settings`: the working DuckDB
file, the DuckDB temp directory, memory and thread limits (read by ``dbt_project/profiles.yml``), and
the business date as ``TRUST_DW_DS`` (read when a node executes, so dbt's partial parsing survives a new
ds; ``--vars '{ds: D}'`` is not used, since a changed var re-parses the whole project). dbt's own
artefacts (``target/``, logs) go under ``$TRUST_DW_HOME/dbt/`` rather than into the repository, so two
homes (two engineers, two test sessions) never share a manifest.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from trust_dw.config import Settings

# dbt statuses that mean a node failed; "skipped" nodes are the consequences of those.
_FAILED_STATUSES = {"error", "fail", "runtime error"}


class DbtError(RuntimeError):
    """A dbt invocation failed; ``failed_nodes`` names every node that errored, failed or was skipped."""

    def __init__(self, message: str, failed_nodes: list[str] | None = None) -> None:
        super().__init__(message)
        self.failed_nodes = failed_nodes or []


@dataclass
class DbtRunResult:
    """What one dbt invocation did: the command, the ds, and one status per node."""

    args: list[str]
    ds: str
    success: bool
    node_statuses: dict[str, str] = field(default_factory=dict)
    node_messages: dict[str, str] = field(default_factory=dict)
    # Why dbt parsed the whole project instead of reusing its saved parse (None: it reused it), as dbt
    # says it ("saved manifest not found. Starting full parse.", "profile has changed", …).
    full_parse_reason: str | None = None
    raw: object = None

    @property
    def failed_nodes(self) -> list[str]:
        return sorted(n for n, s in self.node_statuses.items() if s in _FAILED_STATUSES)

    @property
    def skipped_nodes(self) -> list[str]:
        return sorted(n for n, s in self.node_statuses.items() if s == "skipped")


def dbt_target_dir(settings: Settings) -> Path:
    return settings.home / "dbt" / "target"


def dbt_log_dir(settings: Settings) -> Path:
    return settings.home / "dbt" / "logs"


def dbt_env(settings: Settings) -> dict[str, str]:
    """Environment variables the dbt profile and project read (see ``dbt_project/profiles.yml``)."""
    return {
        "TRUST_DW_WAREHOUSE": str(settings.warehouse_path),
        "TRUST_DW_DUCKDB_TEMP": str(settings.duckdb_temp_dir),
        "TRUST_DW_MEMORY_LIMIT": settings.memory_limit,
        "TRUST_DW_MAX_TEMP_DIRECTORY_SIZE": settings.duckdb_max_temp_size(),
        "TRUST_DW_THREADS": str(settings.threads),
        "TRUST_DW_DBT_THREADS": os.environ.get("TRUST_DW_DBT_THREADS", str(min(settings.threads, 2))),
        "DBT_TARGET_PATH": str(dbt_target_dir(settings)),
        "DBT_LOG_PATH": str(dbt_log_dir(settings)),
        # No telemetry may try the network (DESIGN §11).
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DO_NOT_TRACK": "1",
    }


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of an in-process dbt call, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in-process after a run.

    dbt-duckdb caches one environment (and its open database) per process for the next invocation;
    while it lives, the working file cannot be opened by anyone else in this process with another
    configuration (read-only, other settings): the quality gate and the publish step that follow a
    build in the same process would fail with "Can't open a connection to same database file with a
    different configuration". Closing it after each invocation costs one re-open per run.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # pragma: no cover - dbt-duckdb is a pinned dependency
        return
    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
        if env is not None:
            env.close()


def _check_ds(ds: str) -> str:
    try:
        return date.fromisoformat(ds).isoformat()
    except ValueError as exc:
        raise ValueError(f"ds must be a date YYYY-MM-DD, got {ds!r}") from exc


def run_dbt(settings: Settings, args: list[str], ds: str) -> DbtRunResult:
    """Run one dbt command (``["build", "--select", "core"]``, ``["seed"]``, …) for ``ds``, in-process.

    Returns the per-node statuses; does not raise on failed nodes (``build`` does).
    """
    from dbt.cli.main import dbtRunner  # imported late: dbt is slow to import

    ds = _check_ds(ds)
    settings.duckdb_temp_dir.mkdir(parents=True, exist_ok=True)
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    dbt_log_dir(settings).mkdir(parents=True, exist_ok=True)
    project_dir = str(settings.dbt_project_dir)
    full_args = [
        *args,
        "--project-dir",
        project_dir,
        "--profiles-dir",
        project_dir,
    ]
    # ds goes in the environment, not --vars: a changed --vars makes dbt re-parse the whole project
    # (~3 s), while TRUST_DW_DS is read only when a node executes (macro ds_string), so the saved
    # parse (partial_parse.msgpack under the target dir) is reused from one ds to the next.
    full_parse_reasons: list[str] = ["--no-partial-parse"] if "--no-partial-parse" in args else []

    def on_event(event) -> None:
        if event.info.name == "UnableToPartialParse":
            full_parse_reasons.append(str(event.data.reason))

    with _environment({**dbt_env(settings), "TRUST_DW_DS": ds}):
        try:
            res = dbtRunner(callbacks=[on_event]).invoke(full_args)
        finally:
            _release_duckdb()
    statuses: dict[str, str] = {}
    messages: dict[str, str] = {}
    results = getattr(res.result, "results", None) or []
    for r in results:
        node = getattr(r, "node", None)
        name = getattr(node, "unique_id", None) or str(node)
        statuses[name] = str(getattr(r.status, "value", r.status))
        if getattr(r, "message", None):
            messages[name] = str(r.message)
    return DbtRunResult(
        args=full_args,
        ds=ds,
        success=bool(res.success),
        node_statuses=statuses,
        node_messages=messages,
        full_parse_reason="; ".join(full_parse_reasons) or None,
        raw=res,
    )


def _raise_on_failure(settings: Settings, result: DbtRunResult, command: str) -> DbtRunResult:
    if not result.success:
        failed = result.failed_nodes
        exc = getattr(result.raw, "exception", None)
        if failed:
            lines = [f"  {n}: {result.node_statuses[n]} - {result.node_messages.get(n, '')}" for n in failed]
            detail = "\n".join(lines)
        else:
            detail = f"  {type(exc).__name__}: {exc}" if exc else "  (no node result; see dbt logs)"
        raise DbtError(
            f"dbt {command} failed for ds={result.ds}: {len(failed)} failed node(s), "
            f"{len(result.skipped_nodes)} skipped because of them:\n{detail}\n"
            f"logs: {dbt_log_dir(settings)}",
            failed_nodes=failed,
        )
    return result


# Unit tests parse the project in full: with a saved parse, a seed that a unit test uses implicitly as a
# fixture keeps the content it had when it was parsed, even after its CSV changed (docs/scores.md).
UNIT_TEST_PARSE = ["--no-partial-parse"]


def build(
    settings: Settings,
    ds: str,
    select: str | None = None,
    full_refresh: bool = False,
    selector: str | None = None,
    with_unit_tests: bool = False,
) -> DbtRunResult:
    """``dbt build`` (seeds, snapshots, models, data tests in DAG order) for ``ds``.

    ``select`` is a dbt selection (``"core intermediate"``); ``selector`` names one of
    ``dbt_project/selectors.yml`` (``"warehouse"``). Unit tests are code tests, not data checks: they
    are left out of the daily build (as dbt recommends for production; an incremental model's unit
    test also needs the model to exist) and run by :func:`unit_tests`, or here with
    ``with_unit_tests=True`` once the warehouse exists. Raises :class:`DbtError` naming every failed
    node (with dbt's message) if anything fails.
    """
    if with_unit_tests:
        args = ["build", *UNIT_TEST_PARSE]
    else:
        args = ["build", "--exclude-resource-type", "unit_test"]
    if select:
        args += ["--select", *select.split()]
    if selector:
        args += ["--selector", selector]
    if full_refresh:
        args.append("--full-refresh")
    return _raise_on_failure(settings, run_dbt(settings, args, ds), "build")


def unit_tests(settings: Settings, ds: str, select: str | None = None) -> DbtRunResult:
    """Run the dbt ``unit_tests:`` (of the models in ``select``, or all) against a built warehouse."""
    args = ["test", "--resource-type", "unit_test", *UNIT_TEST_PARSE]
    if select:
        args += ["--select", *select.split()]
    return _raise_on_failure(settings, run_dbt(settings, args, ds), "test")


def docs_generate(settings: Settings, ds: str) -> Path:
    """``dbt docs generate``: the static docs site (lineage, models, columns, tests); returns index.html.

    The catalog (column types, row counts) is read from the working file when it exists.
    """
    args = ["docs", "generate"]
    if not settings.warehouse_path.exists():
        args.append("--empty-catalog")
    _raise_on_failure(settings, run_dbt(settings, args, ds), "docs generate")
    return dbt_target_dir(settings) / "index.html"


def main(argv: list[str] | None = None) -> None:
    """``python -m trust_dw.dbt_runner docs --ds D`` (``make docs``)."""
    parser = argparse.ArgumentParser(prog="python -m trust_dw.dbt_runner")
    parser.add_argument("command", choices=["docs"])
    parser.add_argument("--ds", default=date.today().isoformat())
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    index = docs_generate(settings, args.ds)
    print(f"dbt docs site: {index}")
    print(f"open file://{index}  or serve it: cd {index.parent} && python -m http.server 8081")


if __name__ == "__main__":
    main()
