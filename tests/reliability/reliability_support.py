"""What the reliability tests share: running the real CLI, prepared homes, checking what was published.

One clean reference is built per session — generated landing data, then the real pipeline (ingest → dbt
build → Great Expectations gate → publish) for each published ds — and kept as pristine copies of
``TRUST_DW_HOME`` per ds. A test copies the state it starts from (``cp -r``) instead of re-running it.

Scale: ``TRUST_DW_RELIABILITY_SCALE`` (``tiny`` by default, ``small`` under ``make test-full``). At tiny the
first ds is ingested but not built on its own: the first build (at the second ds) reads every partition up to
it, which is cheaper than one build per ds and is the path a first deployment takes; at small every ds is
built and published.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
from trust_dw.config import Settings
from trust_dw.publish import MANIFEST_FILE, PART_FILE, PUBLISHED_TABLES, SUCCESS_FILE, refresh_serving_file

SCALE = os.environ.get("TRUST_DW_RELIABILITY_SCALE", "tiny")
SEED = 7
DATES = ("2026-01-01", "2026-01-02", "2026-01-03")
# The ds published by the reference run (see the module docstring).
PUBLISHED = DATES[1:] if SCALE == "tiny" else DATES
TRUST_DW = str(Path(sys.executable).with_name("trust-dw"))
HERE = Path(__file__).resolve().parent

# Figures shown at the end of the session and written to $TRUST_DW_RELIABILITY_FIGURES (a JSON file) if set.
FIGURES: Counter[str] = Counter()


def record(figure: str, n: int = 1) -> None:
    FIGURES[figure] += n


def cpu_seconds() -> float:
    """CPU time of this process and of its ended children so far (the figure the suite's budget is in)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# --- running the real CLI ---------------------------------------------------------------------------------


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``trust-dw`` child process on ``home`` (telemetry off, no bytecode written)."""
    # The caller's TRUST_DW_* settings stay out (a stray TRUST_DW_WAREHOUSE would point a child elsewhere),
    # except TRUST_DW_REPO: the dbt project and suites to use (e.g. an exported commit).
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUST_DW_") or k == "TRUST_DW_REPO"}
    env |= {
        "TRUST_DW_HOME": str(home),
        "TRUST_DW_THREADS": "2",
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "GX_ANALYTICS_ENABLED": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "SCARF_ANALYTICS": "false",
        "PYTHONDONTWRITEBYTECODE": "1",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    return env | extra


def trust_dw(home: Path, *args: str, timeout: float = 1800, **env: str) -> subprocess.CompletedProcess:
    """Run ``trust-dw <args>`` on ``home`` in a child process (the way an operator or a retry does)."""
    return subprocess.run(
        [TRUST_DW, *args], env=cli_env(home, **env), capture_output=True, text=True, timeout=timeout
    )


def run_ds(home: Path, ds: str, *stages: str, **env: str) -> subprocess.CompletedProcess:
    """``trust-dw run --ds <ds> [--stage …]``; asserts it succeeded."""
    args = ["run", "--ds", ds, *[a for s in stages for a in ("--stage", s)]]
    done = trust_dw(home, *args, **env)
    assert done.returncode == 0, (
        f"trust-dw {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    )
    return done


def generate(home: Path, faults: str = "") -> None:
    args = ["generate", "--scale", SCALE, "--start", DATES[0], "--days", str(len(DATES)), "--seed", str(SEED)]
    done = trust_dw(home, *args, *(["--faults", faults] if faults else []))
    assert done.returncode == 0, done.stdout + done.stderr


def build_published_history(
    home: Path, pristine: dict[str, Path] | None = None, until: str | None = None
) -> None:
    """Ingest the first ds if it is not published, then run each published ds in order (up to ``until``);
    keep a pristine copy of the home after each if asked."""
    if PUBLISHED[0] != DATES[0]:
        run_ds(home, DATES[0], "ingest")
    for ds in PUBLISHED:
        if until is not None and ds > until:
            break
        run_ds(home, ds)
        if pristine is not None:
            copy_home(home, pristine[ds])


def copy_home(source: Path, target: Path) -> Settings:
    """A fresh copy of a prepared home; its serving file is rebuilt so its views point at the copy's exports
    (the views hold absolute paths)."""
    shutil.copytree(source, target, symlinks=True)
    settings = Settings(home=target, threads=2)
    if (target / "serving").exists():
        refresh_serving_file(settings)
    return settings


# --- what was published, checked independently of trust_dw.publish ---------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def partition_problems(folder: Path) -> list[str]:
    """Why a published partition folder is not complete (empty list: complete and intact)."""
    if not (folder / SUCCESS_FILE).is_file():
        return [f"{folder}: no {SUCCESS_FILE}"]
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{folder}: unreadable manifest: {exc}"]
    problems = []
    table, ds = folder.parent.name, folder.name.removeprefix("ds=")
    if (manifest.get("table"), manifest.get("ds")) != (table, ds):
        problems.append(f"{folder}: manifest is for {manifest.get('table')} {manifest.get('ds')}")
    for entry in manifest.get("files", []):
        path = folder / entry["path"]
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif sha256(path) != entry["sha256"]:
            problems.append(f"{path}: sha256 differs from the manifest")
        elif pq.ParquetFile(path).metadata.num_rows != entry["rows"]:
            problems.append(f"{path}: row count differs from the manifest")
    return problems


# The serving file's views over the published snapshots (others, e.g. operational views, must answer too
# but hold what differs by run: they are not compared).
SNAPSHOT_VIEWS = {*PUBLISHED_TABLES, *(f"{t}_latest" for t in PUBLISHED_TABLES), "published_partitions"}


@dataclass
class PublishedState:
    partitions: dict[str, dict[str, str]]  # table -> ds -> sha256 of the Parquet file
    latest: dict[str, str]  # table -> ds in LATEST
    serving_rows: dict[str, int]  # snapshot view -> rows it answers


def published_state(home: Path) -> PublishedState:
    """Assert the published state is sound and return it.

    Every ``exports/<table>/ds=*`` folder is complete (``_SUCCESS``, manifest for that table and ds, each file
    present with the manifest's sha256 and row count) — a half-written one must not exist under that name;
    ``LATEST`` names a complete partition; the serving file opens read-only and every view answers, with the
    rows the complete partitions hold.
    """
    exports = home / "exports"
    partitions: dict[str, dict[str, str]] = {}
    latest: dict[str, str] = {}
    rows: dict[str, dict[str, int]] = {}
    for table in PUBLISHED_TABLES:
        table_dir = exports / table
        partitions[table], rows[table] = {}, {}
        for folder in sorted(table_dir.glob("ds=*")) if table_dir.is_dir() else []:
            problems = partition_problems(folder)
            assert not problems, problems
            ds = folder.name.removeprefix("ds=")
            partitions[table][ds] = sha256(folder / PART_FILE)
            rows[table][ds] = pq.ParquetFile(folder / PART_FILE).metadata.num_rows
        pointer = table_dir / "LATEST"
        if pointer.exists():
            latest[table] = pointer.read_text(encoding="utf-8").strip()
            assert latest[table] in partitions[table], (
                f"{pointer} names {latest[table]}: no complete partition"
            )
    serving: dict[str, int] = {}
    serving_file = home / "serving" / "trust_dw.duckdb"
    if serving_file.exists():
        with duckdb.connect(str(serving_file), read_only=True) as con:
            views = con.execute(
                "select schema_name, view_name from duckdb_views() where not internal and database_name = "
                "current_database()"
            ).fetchall()
            for schema, view in views:  # every view must answer; the snapshot views' rows are compared
                rows_in_view = con.execute(f'select count(*) from "{schema}"."{view}"').fetchone()[0]
                if schema == "main" and view in SNAPSHOT_VIEWS:
                    serving[view] = rows_in_view
        for table in PUBLISHED_TABLES:
            if table in serving:
                assert serving[table] == sum(rows[table].values()), (table, serving[table], rows[table])
    return PublishedState(partitions, latest, serving)


def manifest(home: Path, table: str, ds: str) -> dict:
    return json.loads((home / "exports" / table / f"ds={ds}" / MANIFEST_FILE).read_text(encoding="utf-8"))


# Manifest fields that say who published and when, not what: they differ between two runs by design.
RUN_FIELDS = {"run_id", "published_at", "code_version", "gate"}


def assert_same_publication(home: Path, expected: Path, dates: tuple[str, ...]) -> int:
    """Every table of every ds in ``dates``: byte-identical Parquet and the same manifest (run fields
    aside) in ``home`` as in ``expected``. Returns the number of partitions compared."""
    compared = 0
    for table in PUBLISHED_TABLES:
        for ds in dates:
            got = home / "exports" / table / f"ds={ds}"
            want = expected / "exports" / table / f"ds={ds}"
            assert (got / SUCCESS_FILE).exists(), f"{got} is not published"
            got_manifest = {k: v for k, v in manifest(home, table, ds).items() if k not in RUN_FIELDS}
            want_manifest = {k: v for k, v in manifest(expected, table, ds).items() if k not in RUN_FIELDS}
            assert got_manifest == want_manifest, (table, ds)
            assert sha256(got / PART_FILE) == sha256(want / PART_FILE), (table, ds)
            compared += 1
    return compared


# --- two runs of one ds at once, with BI readers on the serving file ---------------------------------------

READER_MODES = ("reconnect", "reconnect", "keep")  # a dashboard refreshing, and a SQL client left open


@dataclass
class Race:
    runs: list[subprocess.CompletedProcess]  # the two `trust-dw run` processes
    finished_at: list[float]  # monotonic time each ended
    reader_logs: list[list[dict]]  # every query each reader made, with its answer or error


def race_two_runs(home: Path, ds: str, workdir: Path) -> Race:
    """Start reader processes (``bi_reader.py``) on the serving file; once each answers, start two
    ``trust-dw run --ds <ds>`` at the same moment; stop the readers a second after both runs ended."""
    serving = home / "serving" / "trust_dw.duckdb"
    stop = workdir / "stop-readers"
    logs = [workdir / f"reader-{i}.jsonl" for i in range(len(READER_MODES))]
    readers = [
        subprocess.Popen(
            [sys.executable, str(HERE / "bi_reader.py"), str(serving), str(log), str(stop), mode]
        )
        for log, mode in zip(logs, READER_MODES, strict=True)
    ]
    try:
        deadline = time.monotonic() + 120
        while not all(log.exists() and log.stat().st_size for log in logs):
            assert time.monotonic() < deadline and all(r.poll() is None for r in readers), (
                "readers did not start"
            )
            time.sleep(0.1)
        args = [TRUST_DW, "run", "--ds", ds]
        outputs = [workdir / f"run-{i}.log" for i in range(2)]
        runs = []
        for output in outputs:  # to files: a pipe nobody reads would block a chatty run
            with output.open("w") as out:
                runs.append(subprocess.Popen(args, env=cli_env(home), stdout=out, stderr=subprocess.STDOUT))
        finished_at = [0.0, 0.0]
        while not all(finished_at):
            for i, run in enumerate(runs):
                if run.poll() is not None and not finished_at[i]:
                    finished_at[i] = time.monotonic()
            time.sleep(0.05)
        time.sleep(1)  # a few more rounds on the final state
    finally:
        stop.touch()
        for reader in readers:
            reader.wait(timeout=60)
    done = [
        subprocess.CompletedProcess(args, run.returncode, output.read_text(), "")
        for run, output in zip(runs, outputs, strict=True)
    ]
    return Race(done, finished_at, [[json.loads(x) for x in log.read_text().splitlines()] for log in logs])


def serving_answers(home: Path) -> dict:
    """What the BI readers' queries answer on the serving file of ``home`` right now."""
    from bi_reader import answers

    with duckdb.connect(str(home / "serving" / "trust_dw.duckdb"), read_only=True) as con:
        return json.loads(json.dumps(answers(con), default=str))
