"""Crash safety: SIGKILL the pipeline at many points of every stage, and check what is left each time.

One chain of runs of the last ds, starting from the clean reference's state before it. Each step is a real
``trust-dw run`` child process killed with SIGKILL, either at a named point (``killpoints.py``: the wrapped
function ran for real, then the process killed itself) or from outside, the moment a condition is observed
on disk (a timed kill: wherever the process happens to be). Each step resumes from the stage the previous kill
interrupted — as an Airflow retry of that task would — and from whatever debris it left. After every kill:

- every published partition is complete (``_SUCCESS``, manifest, sha256 and rows matching) or absent;
- ``LATEST`` names a complete partition and never goes back; the history published before is untouched;
- the serving file opens read-only and every view answers, with the rows of the complete partitions.

At the end one uninterrupted rerun must publish exactly what the uninterrupted reference run published:
byte-identical Parquet, the same manifests (run id and time aside) and the same ingest ledger.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from killpoints import POINTS, resolve
from reliability_support import (
    HERE,
    PUBLISHED,
    SCALE,
    TRUST_DW,
    assert_same_publication,
    cli_env,
    copy_home,
    cpu_seconds,
    published_state,
    record,
    run_ds,
)
from trust_dw.config import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

DS = PUBLISHED[-1]
STAGES = ("ingest", "dbt", "gate", "publish")
KILLED = -signal.SIGKILL


@dataclass(frozen=True)
class Step:
    """One kill: ``point`` is a killpoints.py name (``stage:what#n``) or ``timed:<stage>``."""

    point: str
    tiny: bool = True  # part of the chain at tiny scale (make test); every step runs at small

    @property
    def stage(self) -> str:
        return self.point.split(":", 1)[0] if not self.point.startswith("timed:") else self.point[6:]


CHAIN = [
    Step("timed:ingest"),
    Step("ingest:file_read#1"),
    Step("ingest:mid_transaction#1"),
    Step("ingest:feed_committed#2"),
    Step("ingest:before_swap#2"),
    Step("dbt:seed_loaded#1"),
    Step("dbt:snapshot_running#1", tiny=False),
    Step("dbt:fct_orders_mid_merge#1"),
    Step("dbt:marts_running#1", tiny=False),
    Step("dbt:allocation_running#1", tiny=False),
    Step("dbt:flow_mart_built#1", tiny=False),
    Step("timed:dbt", tiny=False),
    Step("gate:context_opened#1", tiny=False),
    Step("gate:mid_suites#4", tiny=False),
    Step("gate:verdict_pending#1", tiny=False),
    Step("timed:gate"),
    Step("gate:verdict_written#1", tiny=False),
    Step("publish:candidates_read#1"),
    Step("publish:parquet_in_staging#2"),
    Step("publish:staging_complete#1"),
    Step("publish:partition_renamed#2"),
    Step("publish:partition_exchanged#1"),
    Step("publish:before_latest#1"),
    Step("publish:latest_tmp_written#1"),
    Step("publish:latest_moved#2"),
    Step("publish:serving_half_built#1"),
    Step("publish:serving_before_swap#1"),
    Step("publish:serving_swapped#1"),
    Step("timed:publish"),
]
STEPS = [s for s in CHAIN if s.tiny or SCALE != "tiny"]


def _run_args(from_stage: str) -> list[str]:
    stages = STAGES[STAGES.index(from_stage) :]
    return ["run", "--ds", DS, *[a for s in stages for a in ("--stage", s)]]


# --- the timed kills: a real SIGKILL from outside when something is seen on disk ------------------------


def _timed_condition(home: Path, stage: str) -> Callable[[], bool]:
    if stage == "ingest":  # the first feed's transaction reached the WAL
        wal = home / "warehouse" / "trust_dw.duckdb.wal"
        return wal.exists
    if stage == "dbt":  # dbt started building the intermediate (window, indicator) models
        log = home / "dbt" / "logs" / "dbt.log"
        start = log.stat().st_size if log.exists() else 0

        def intermediate_started() -> bool:
            if not log.exists():
                return False
            with log.open("rb") as fh:
                fh.seek(start)
                return b"model intermediate." in fh.read()

        return intermediate_started
    if stage == "gate":  # Great Expectations is storing validation results
        results = home / "gx" / "uncommitted" / "validations"
        before = {p: p.stat().st_mtime_ns for p in results.rglob("*.json")} if results.exists() else {}

        def storing() -> bool:
            return results.exists() and any(
                before.get(p) != p.stat().st_mtime_ns for p in results.rglob("*.json") if p.exists()
            )

        return storing
    # publish: a staging folder is being written
    return lambda: any((home / "exports").glob("*/.staging-*"))


def _kill_when(home: Path, stage: str, args: list[str]) -> subprocess.CompletedProcess:
    condition = _timed_condition(home, stage)
    output = home.parent / f"timed-{stage}.log"
    with output.open("w") as out:  # a file, not a pipe: nobody reads while we watch
        proc = subprocess.Popen(
            [TRUST_DW, *args], env=cli_env(home), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 1800
    while proc.poll() is None:
        if condition() or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, output.read_text(errors="replace"), "")


def _kill_at(home: Path, point: str, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(HERE / "killpoints.py"), point, "--", *args],
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=1800,
    )


# --- the chain ----------------------------------------------------------------------------------------------


@dataclass
class Kill:
    step: Step
    from_stage: str
    returncode: int
    output: str
    leftovers: list[str]


@dataclass
class ChainRun:
    home: Path
    kills: list[Kill]
    states: list  # PublishedState after each kill
    history: dict  # table -> {ds: sha256} published before the chain
    rerun: subprocess.CompletedProcess | None = None  # the final uninterrupted rerun


def _debris(home: Path) -> list[str]:
    """What killed runs leave beside the published files: staging folders, temp files."""
    exports = [f"{p.parent.name}/{p.name}" for p in (home / "exports").glob("*/.*")]
    serving = [p.name for p in (home / "serving").iterdir() if p.name != "trust_dw.duckdb"]
    return sorted(exports + serving)


@pytest.fixture(scope="module")
def chain(reference, tmp_path_factory: pytest.TempPathFactory) -> ChainRun:
    start = reference.at(PUBLISHED[-2]) if len(PUBLISHED) > 1 else None
    assert start is not None, "the chain needs a published ds before the one it runs"
    home = copy_home(start, tmp_path_factory.mktemp("crash") / "home").home
    history = published_state(home).partitions
    kills, states = [], []
    from_stage = "ingest"
    started = cpu_seconds()
    for step in STEPS:
        args = _run_args(from_stage)
        if step.point.startswith("timed:"):
            done = _kill_when(home, step.stage, args)
        else:
            done = _kill_at(home, step.point, args)
        kills.append(Kill(step, from_stage, done.returncode, done.stdout + done.stderr, _debris(home)))
        if done.returncode != KILLED:
            break  # reported by the tests; the state after it is still checked
        states.append(published_state(home))
        from_stage = step.stage
    chain = ChainRun(home, kills, states, history)
    if len(kills) == len(STEPS) and kills[-1].returncode == KILLED:
        chain.rerun = run_ds(home, DS, *STAGES[STAGES.index(from_stage) :])
    record("cpu seconds: crash chain (kills and reruns)", round(cpu_seconds() - started))
    return chain


def test_every_kill_point_fired(chain: ChainRun) -> None:
    """Each step really was killed with SIGKILL at its point (not finished, not failed before it)."""
    for kill in chain.kills:
        assert kill.returncode == KILLED, (
            f"{kill.step.point} (run from {kill.from_stage}) ended with {kill.returncode}:\n"
            + kill.output[-3000:]
        )
    assert len(chain.kills) == len(STEPS)
    assert {k.step.stage for k in chain.kills} == set(STAGES)
    record("crash: kill points (SIGKILL) survived", len(chain.kills))
    record(
        "crash: of them real timed SIGKILLs from outside",
        sum(k.step.point.startswith("timed:") for k in chain.kills),
    )


def test_after_every_kill_the_published_state_is_sound(chain: ChainRun) -> None:
    """published_state() asserted completeness after each kill; here: history untouched, LATEST monotonic,
    the serving file answered every time."""
    assert len(chain.states) == len(chain.kills)
    latest_seen = {table: max(dates) for table, dates in chain.history.items()}
    for kill, state in zip(chain.kills, chain.states, strict=True):
        for table, dates in chain.history.items():
            for ds, digest in dates.items():
                assert state.partitions[table].get(ds) == digest, (kill.step.point, table, ds)
            assert state.latest[table] >= latest_seen[table], (kill.step.point, table, state.latest[table])
            latest_seen[table] = state.latest[table]
            assert set(state.partitions[table]) <= {*dates, DS}, (kill.step.point, table)
        assert state.serving_rows, f"after {kill.step.point} the serving file has no views"
        assert all(rows > 0 for rows in state.serving_rows.values()), (kill.step.point, state.serving_rows)


def test_a_rerun_publishes_exactly_what_an_uninterrupted_run_did(chain: ChainRun, reference) -> None:
    assert chain.rerun is not None, "the chain did not complete"
    compared = assert_same_publication(chain.home, reference.last, PUBLISHED)
    final = published_state(chain.home)
    expected = published_state(reference.last)
    assert final.latest == expected.latest
    assert final.serving_rows == expected.serving_rows
    record("crash: partitions compared byte for byte after the reruns", compared)


def test_the_ingest_ledger_reconciles_as_in_the_uninterrupted_run(chain: ChainRun, reference) -> None:
    query = (
        "select feed, status, files, rows_read, rows_loaded, rows_quarantined from ingest.load_ledger "
        "where ds = cast(? as date) order by feed"
    )
    ledgers = []
    for home in (chain.home, reference.last):
        with duckdb.connect(str(home / "warehouse" / "trust_dw.duckdb"), read_only=True) as con:
            ledgers.append(con.execute(query, [DS]).fetchall())
    assert ledgers[0] == ledgers[1]
    assert len(ledgers[0]) == 8
    assert all(
        status == "loaded" and read == loaded + quarantined
        for _, status, _, read, loaded, quarantined in ledgers[0]
    )


def test_no_debris_is_left_once_a_run_completes(chain: ChainRun) -> None:
    """Killed publishes leave staging folders and temp files; the next complete publish removes them."""
    assert chain.rerun is not None, "the chain did not complete"
    assert any(kill.leftovers for kill in chain.kills), "no kill left debris: the points are not biting"
    assert _debris(chain.home) == []


@pytest.mark.parametrize("point", sorted(POINTS))
def test_every_kill_point_names_a_function_that_exists(point: str) -> None:
    """A refactor that renames a wrapped function or a dbt node must update killpoints.py (cheap)."""
    kill_point = POINTS[point]
    if kill_point.dbt_event:
        assert kill_point.dbt_event in ("NodeStart", "NodeFinished")
        name = kill_point.dbt_node.rsplit(".", 1)[-1]
        assert list((REPO_ROOT / "dbt_project").rglob(f"{name}.*")), kill_point.dbt_node
        return
    owner, name = resolve(kill_point.target)
    assert callable(getattr(owner, name)), kill_point.target
