"""Write–audit–publish (DESIGN §9): Parquet snapshots with manifests, LATEST, and the serving DuckDB file.

Only a ds whose gate passed (``gx/gate/ds=<ds>.json``, written by :func:`trust_dw.quality.validate`) is
published, and only if the candidate rows are still exactly those the gate saw (row count and hash).

Per table: ``exports/<table>/ds=<ds>/`` holds ``part-0.parquet``, ``_manifest.json`` and ``_SUCCESS``. The
folder is written as ``exports/<table>/.staging-<ds>-<uuid>`` and renamed into place; an existing ds is
swapped with it in one atomic exchange (or, where the OS cannot, renamed away first) and deleted after, so
a reader or the serving views' glob (``ds=*``) never sees a half-written partition. Then, once every table
is in place, ``exports/<table>/LATEST`` (the newest published ds, via temp file + rename; a backfill of an
older ds never moves it back). Last, the serving file ``serving/trust_dw.duckdb`` —
views over the snapshots, no data — is built as a new file and swapped in with ``os.replace``.

Parquet files are deterministic: rows sorted by the table's key, one fixed writer configuration, no
timestamps in the file, so a rerun of a ds on the same candidates is byte-identical. Everything that
varies by run (run id, time, code version) lives in the manifest only, never in what is hashed.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import logging
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from trust_dw import __version__
from trust_dw.config import Settings
from trust_dw.warehouse import connect

log = logging.getLogger(__name__)

# The published tables (DESIGN §7) and their keys, in publish order.
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "shop_scores_daily": ("ds", "shop_id"),
    "creator_scores_daily": ("ds", "creator_id"),
    "product_tiers_daily": ("ds", "product_id"),
    "provider_tiers_daily": ("ds", "provider_id"),
    "flow_allocation_daily": ("ds", "pool_id", "recipient_type", "recipient_id"),
}
PUBLISHED_TABLES: tuple[str, ...] = tuple(TABLE_KEYS)

PART_FILE = "part-0.parquet"
MANIFEST_FILE = "_manifest.json"
SUCCESS_FILE = "_SUCCESS"
LATEST_FILE = "LATEST"
STAGING_PREFIX = ".staging-"
REPLACED_PREFIX = ".replaced-"

# One writer configuration for every file (a change here changes every published byte: bump the
# manifest's format_version). created_by is "parquet-cpp-arrow version <pyarrow>", fixed by the lock.
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "row_group_size": 1_000_000,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
    "store_schema": True,
}
FORMAT_VERSION = 1
# DuckDB 2.0 writes storage v69, which DuckDB 1.x (most BI drivers) cannot open (DESIGN §11). The serving
# file holds only views, so the oldest stable storage format costs nothing and opens in DuckDB ≥ 1.0.
SERVING_STORAGE_VERSION = "v1.0.0"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


class NotAudited(RuntimeError):
    """Publish refused: the gate did not pass for the ds, or the candidates changed since it did."""


def asset_uri(table: str) -> str:
    """The Airflow Asset URI of a published table (logical, the same on every machine)."""
    if table not in TABLE_KEYS:
        raise KeyError(f"{table!r} is not a published table ({', '.join(PUBLISHED_TABLES)})")
    return f"trust-dw://exports/{table}"


def partition_dir(settings: Settings, table: str, ds: str) -> Path:
    return settings.exports_dir / table / f"ds={ds}"


def latest_ds(settings: Settings, table: str) -> str | None:
    path = settings.exports_dir / table / LATEST_FILE
    return path.read_text(encoding="utf-8").strip() if path.exists() else None


def code_version(settings: Settings) -> str:
    """The package version plus the git commit of the code, when the repo is a git checkout."""
    try:
        sha = subprocess.run(
            ["git", "-C", str(settings.repo_root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{sha}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# --- one partition ---------------------------------------------------------------------------------


@dataclass
class PublishedPartition:
    table: str
    ds: str
    rows: int
    sha256: str
    path: Path


@dataclass
class PublishResult:
    ds: str
    run_id: str
    partitions: list[PublishedPartition] = field(default_factory=list)
    serving_path: Path | None = None

    def asset_extra(self, table: str) -> dict[str, Any]:
        """What the Airflow Asset event of ``table`` carries (ds, rows, sha256, run id)."""
        part = next(p for p in self.partitions if p.table == table)
        return {"ds": self.ds, "rows": part.rows, "sha256": part.sha256, "run_id": self.run_id}


def read_candidates(con: duckdb.DuckDBPyConnection, table: str, ds: str) -> tuple[pa.Table, list[dict]]:
    """The candidate rows of ``marts.<table>`` for ``ds`` sorted by key, and the column names and types."""
    order = ", ".join(TABLE_KEYS[table])
    relation = con.sql(
        f"select * from marts.{table} where ds = cast($ds as date) order by {order}", params={"ds": ds}
    )
    columns = [{"name": n, "sql_type": str(t)} for n, t in zip(relation.columns, relation.types, strict=True)]
    data = relation.to_arrow_table().combine_chunks()
    for column, arrow_field in zip(columns, data.schema, strict=True):
        column["type"] = str(arrow_field.type)
    return data, columns


def write_partition(
    settings: Settings,
    table: str,
    ds: str,
    data: pa.Table,
    columns: list[dict],
    *,
    run_id: str,
    version: str,
    gate: dict[str, Any] | None = None,
) -> PublishedPartition:
    """Write one partition into a staging folder and rename it into place (replacing an existing ds)."""
    table_dir = settings.exports_dir / table
    table_dir.mkdir(parents=True, exist_ok=True)
    staging = table_dir / f"{STAGING_PREFIX}{ds}-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        part = staging / PART_FILE
        pq.write_table(data, part, **PARQUET_OPTIONS)
        digest = _sha256(part)
        manifest = {
            "table": table,
            "ds": ds,
            "rows": data.num_rows,
            "key": list(TABLE_KEYS[table]),
            "files": [
                {"path": PART_FILE, "rows": data.num_rows, "bytes": part.stat().st_size, "sha256": digest}
            ],
            "columns": columns,
            "format_version": FORMAT_VERSION,
            "code_version": version,
            "run_id": run_id,
            "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "gate": gate or {},
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        (staging / SUCCESS_FILE).write_bytes(b"")
        _fsync_dir(staging)
        final = partition_dir(settings, table, ds)
        if final.exists() and _exchange(staging, final):
            replaced = staging  # after the swap the staging name holds the old partition
        elif final.exists():
            replaced = table_dir / f"{REPLACED_PREFIX}{ds}-{uuid.uuid4().hex}"
            os.rename(final, replaced)
            os.rename(staging, final)
        else:
            replaced = None
            os.rename(staging, final)
        _fsync_dir(table_dir)
        if replaced is not None:
            shutil.rmtree(replaced)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return PublishedPartition(table=table, ds=ds, rows=data.num_rows, sha256=digest, path=final)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Replacing a partition by "rename old away, rename new in" leaves an instant where ``ds=<ds>`` does not
    exist, and a BI query globbing ``ds=*`` then would miss that day. The exchange has no such instant.
    Returns False where the call or the filesystem does not support it (the caller falls back).
    """
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def update_latest(settings: Settings, table: str, ds: str) -> str:
    """Point ``exports/<table>/LATEST`` at ``ds`` unless a newer ds is already published; returns LATEST."""
    current = latest_ds(settings, table)
    if current is not None and current >= ds:
        return current
    _write_atomic_text(settings.exports_dir / table / LATEST_FILE, ds + "\n")
    return ds


def _clean_leftovers(settings: Settings, table: str) -> None:
    """Remove staging/replaced folders and LATEST temp files a crashed publish left behind (publishers are
    serialised)."""
    table_dir = settings.exports_dir / table
    if table_dir.is_dir():
        for leftover in table_dir.iterdir():
            if leftover.name.startswith((STAGING_PREFIX, REPLACED_PREFIX)) and leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            elif leftover.name.startswith(f".{LATEST_FILE}.") and leftover.name.endswith(".tmp"):
                leftover.unlink(missing_ok=True)


# --- the serving file --------------------------------------------------------------------------------


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def serving_views(settings: Settings) -> dict[str, str]:
    """The view definitions of the serving file: one per table with a published partition.

    ``<table>`` reads every published ds (hive partition ``ds=*``); ``<table>_latest`` the ds of LATEST;
    ``published_partitions`` lists every manifest. Paths are absolute: DuckDB resolves relative paths in
    views against the reader's working directory, not the file's folder.
    """
    exports = settings.exports_dir.resolve()
    views: dict[str, str] = {}
    for table in PUBLISHED_TABLES:
        latest = latest_ds(settings, table)
        if latest is None or not (partition_dir(settings, table, latest) / SUCCESS_FILE).exists():
            continue
        glob = _sql_literal(str(exports / table / "ds=*" / PART_FILE))
        views[table] = (
            f"select * from read_parquet({glob}, hive_partitioning = true, hive_types = {{'ds': date}}, "
            "union_by_name = true)"
        )
        views[f"{table}_latest"] = (
            f"select * from read_parquet({_sql_literal(str(exports / table / f'ds={latest}' / PART_FILE))})"
        )
    if views:
        manifests = _sql_literal(str(exports / "*" / "ds=*" / MANIFEST_FILE))
        # Explicit casts: readers of other DuckDB versions infer JSON types differently, and a view whose
        # types changed since it was created fails to bind.
        views["published_partitions"] = (
            'select cast("table" as varchar) as table_name, cast(ds as date) as ds, cast("rows" as bigint) '
            "as rows, cast(files[1].sha256 as varchar) as sha256, cast(run_id as varchar) as run_id, "
            "cast(code_version as varchar) as code_version, "
            f"cast(published_at as timestamptz) as published_at from read_json({manifests}, format = 'auto')"
        )
    # The run ledger (ops.stage_runs, ops.pipeline_runs): read when queried, so failed runs show at once.
    from trust_dw.run_ledger import serving_views as ledger_views

    views.update(ledger_views(settings))
    return views


def refresh_serving_file(settings: Settings) -> Path:
    """Build the serving file next to the live one and swap it in with ``os.replace``.

    Readers holding the old file keep their (unlinked) inode and are never blocked; new readers open the
    new file. The build writes only view definitions, so it costs the same whatever the history.
    """
    target = settings.serving_path
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*.tmp*"):  # left by a publish killed mid-build
        stale.unlink(missing_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        con = duckdb.connect()
        try:
            con.execute(
                f"attach {_sql_literal(str(tmp))} as serving (storage_version '{SERVING_STORAGE_VERSION}')"
            )
            for name, select in serving_views(settings).items():
                schema, _, view = name.rpartition(".")  # "ops.stage_runs" → schema ops
                if schema:
                    con.execute(f"create schema if not exists serving.{schema}")
                con.execute(f"create view serving.{schema or 'main'}.{view} as {select}")
            con.execute("detach serving")
        finally:
            con.close()
        wal = tmp.with_name(tmp.name + ".wal")
        if wal.exists():
            raise RuntimeError(f"serving file build left a WAL behind: {wal}")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


# --- publish -------------------------------------------------------------------------------------------


def publish(settings: Settings, ds: str, *, run_id: str | None = None) -> PublishResult:
    """Publish every table of ``ds`` after checking its gate passed on exactly these candidates."""
    from trust_dw.quality import candidate_fingerprint, read_gate_result

    gate = read_gate_result(settings, ds)
    if gate is None:
        raise NotAudited(
            f"ds={ds} was never validated: run the quality gate (trust_dw.quality.validate) first"
        )
    if not gate.passed:
        raise NotAudited(
            f"ds={ds} failed the quality gate ({', '.join(gate.failed)}); nothing published. "
            f"Data Docs: {gate.data_docs}"
        )
    run_id = run_id or f"manual__{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
    version = code_version(settings)
    gate_summary = {"passed": True, "validated_at": gate.validated_at, "warnings": gate.warnings}
    result = PublishResult(ds=ds, run_id=run_id)
    with connect(settings, read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")  # TIMESTAMPTZ columns carry this zone into Arrow/Parquet
        for table in PUBLISHED_TABLES:
            seen = gate.fingerprints.get(table)
            now = candidate_fingerprint(con, table, ds)
            if seen != now:
                raise NotAudited(
                    f"marts.{table} for ds={ds} changed since the gate passed "
                    f"(gate saw {seen}, now {now}): validate again before publishing"
                )
        staged = [(table, *read_candidates(con, table, ds)) for table in PUBLISHED_TABLES]
    for table, data, columns in staged:
        _clean_leftovers(settings, table)
        result.partitions.append(
            write_partition(
                settings, table, ds, data, columns, run_id=run_id, version=version, gate=gate_summary
            )
        )
    for table in PUBLISHED_TABLES:
        update_latest(settings, table, ds)
    result.serving_path = refresh_serving_file(settings)
    return result


# --- checking what was published (the downstream consumer) -------------------------------------------


@dataclass
class PartitionCheck:
    table: str
    ds: str
    ok: bool
    rows: int | None = None
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        state = "ok" if self.ok else "BROKEN: " + "; ".join(self.problems)
        return f"{self.table} ds={self.ds} rows={self.rows} {state}"


def verify_partition(settings: Settings, table: str, ds: str) -> PartitionCheck:
    """Check one published partition the way a consumer should: _SUCCESS, manifest, sha256 and rows."""
    folder = partition_dir(settings, table, ds)
    check = PartitionCheck(table=table, ds=ds, ok=False)
    if not (folder / SUCCESS_FILE).exists():
        check.problems.append(f"no {SUCCESS_FILE} in {folder}")
        return check
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        check.problems.append(f"unreadable {MANIFEST_FILE}: {exc}")
        return check
    check.rows = manifest.get("rows")
    if manifest.get("table") != table or manifest.get("ds") != ds:
        check.problems.append(f"manifest is for {manifest.get('table')} ds={manifest.get('ds')}")
    total = 0
    for entry in manifest.get("files", []):
        path = folder / entry["path"]
        if not path.exists():
            check.problems.append(f"missing {path}")
            continue
        if _sha256(path) != entry["sha256"]:
            check.problems.append(f"sha256 mismatch for {path}")
            continue
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except (OSError, pa.ArrowException) as exc:
            check.problems.append(f"unreadable {path}: {exc}")
            continue
        total += rows
        if rows != entry.get("rows", rows):
            check.problems.append(f"{path} has {rows} rows, manifest says {entry.get('rows')}")
    if not check.problems and total != manifest.get("rows"):
        check.problems.append(f"files hold {total} rows, manifest says {manifest.get('rows')}")
    check.ok = not check.problems
    return check


def verify_published(settings: Settings, ds_by_table: dict[str, str] | None = None) -> list[PartitionCheck]:
    """Verify the given partitions (default: the LATEST of every table); a missing LATEST is a problem."""
    checks = []
    for table in PUBLISHED_TABLES:
        ds = (ds_by_table or {}).get(table) or latest_ds(settings, table)
        if ds is None:
            checks.append(
                PartitionCheck(table=table, ds="-", ok=False, problems=["nothing published (no LATEST)"])
            )
            continue
        checks.append(verify_partition(settings, table, ds))
    return checks


class PublishedSnapshotBroken(RuntimeError):
    """A consumer found a published partition that does not match its manifest."""


def published_ds_from_events(events: Iterable[Any]) -> dict[str, str]:
    """The ds of each published table named by Airflow Asset events (``event.asset.uri``, ``event.extra``).

    Accepts the values of Airflow's ``triggering_asset_events`` flattened; the newest event of a table wins.
    """
    tables = {asset_uri(table): table for table in PUBLISHED_TABLES}
    by_table: dict[str, str] = {}
    for event in sorted(events, key=lambda e: e.timestamp):
        table = tables.get(event.asset.uri)
        ds = (event.extra or {}).get("ds")
        if table is not None and ds:
            by_table[table] = str(ds)
    return by_table


def check_published_snapshots(settings: Settings, triggering_asset_events: Mapping | None = None) -> dict:
    """What the downstream consumer DAG runs: verify the partitions the Asset events name (LATEST for a
    table without one) — _SUCCESS, manifest, sha256, rows — log one line per table and fail if any is broken.
    """
    events = [event for group in (triggering_asset_events or {}).values() for event in group]
    checks = verify_published(settings, published_ds_from_events(events))
    for check in checks:
        log.info("published snapshot %s", check.line())
    broken = [check for check in checks if not check.ok]
    if broken:
        raise PublishedSnapshotBroken("; ".join(check.line() for check in broken))
    total = sum(check.rows or 0 for check in checks)
    log.info("all %d published snapshots verified, %d rows in total", len(checks), total)
    return {check.table: {"ds": check.ds, "rows": check.rows} for check in checks}
