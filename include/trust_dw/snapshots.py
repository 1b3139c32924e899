"""The consumers' view of the published snapshots (DESIGN §9): what is visible, and how to read it.

The publish stage writes, per table and ds::

    exports/<table>/ds=YYYY-MM-DD/part-0.parquet
    exports/<table>/ds=YYYY-MM-DD/_manifest.json
    exports/<table>/ds=YYYY-MM-DD/_SUCCESS
    exports/<table>/LATEST                       (the newest published ds, as text)

A partition is *visible* only when its folder holds all three files and the manifest is a JSON object
that names the same table and ds. Everything here only reads: nothing is created, locked or written,
and no path is built from anything but a ``PublishedTable`` member and a ``datetime.date``; no symlink
below the exports folder is followed. File names and table keys are those of ``trust_dw.publish``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from trust_dw.publish import LATEST_FILE, MANIFEST_FILE, PART_FILE, SUCCESS_FILE
from trust_dw.publish import TABLE_KEYS as PUBLISH_TABLE_KEYS

log = logging.getLogger(__name__)

_DS_DIR = re.compile(r"^ds=(\d{4}-\d{2}-\d{2})$")


class PublishedTable(StrEnum):
    """The tables that leave the building (DESIGN §7). Never a path from user input."""

    shop_scores_daily = "shop_scores_daily"
    creator_scores_daily = "creator_scores_daily"
    product_tiers_daily = "product_tiers_daily"
    provider_tiers_daily = "provider_tiers_daily"
    flow_allocation_daily = "flow_allocation_daily"

    @property
    def key(self) -> tuple[str, ...]:
        """The table's key columns (DESIGN §7)."""
        return TABLE_KEYS[self]


TABLE_KEYS: dict[PublishedTable, tuple[str, ...]] = {
    PublishedTable(t): k for t, k in PUBLISH_TABLE_KEYS.items()
}
if set(TABLE_KEYS) != set(PublishedTable):
    raise RuntimeError("PublishedTable and trust_dw.publish.TABLE_KEYS disagree on the published tables")


class UnsafePathError(RuntimeError):
    """A path component that could leave the exports folder."""


@dataclass(frozen=True)
class Partition:
    """One visible (complete) published partition."""

    table: PublishedTable
    ds: date
    directory: Path
    manifest: dict[str, Any]
    sha256: str

    @property
    def parquet_path(self) -> Path:
        return self.directory / PART_FILE

    @property
    def rows(self) -> int | None:
        rows = self.manifest.get("rows")
        return rows if isinstance(rows, int) else None

    def read(self, columns: list[str] | None = None) -> pa.Table:
        # ParquetFile rather than pq.read_table: the latter goes through pyarrow.dataset, which imports
        # pandas (seconds on a cold interpreter) for nothing here.
        with pq.ParquetFile(self.parquet_path) as parquet:
            return parquet.read(columns=columns)


def file_sha256(manifest: dict[str, Any], name: str = PART_FILE) -> str | None:
    """The sha256 the manifest records for file ``name``, whichever of the usual shapes it uses.

    Accepted: ``files: [{"path"|"name"|"file": name, "sha256": h}]``, ``files: {name: {"sha256": h}}``,
    ``files: {name: h}``, ``sha256: {name: h}`` and, for a single-file partition, ``sha256: h``.
    """
    files = manifest.get("files")
    if isinstance(files, list):
        for entry in files:
            if isinstance(entry, dict):
                entry_name = entry.get("path") or entry.get("name") or entry.get("file")
                if isinstance(entry_name, str) and Path(entry_name).name == name:
                    return _hex(entry.get("sha256"))
    if isinstance(files, dict) and name in files:
        entry = files[name]
        return _hex(entry.get("sha256") if isinstance(entry, dict) else entry)
    sha = manifest.get("sha256")
    if isinstance(sha, dict):
        return _hex(sha.get(name))
    return _hex(sha)


def _hex(value: Any) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value):
        return value
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class SnapshotStore:
    """Read-only access to ``exports/``. Cheap to create; every call looks at the disk again.

    Paths are built only from a ``PublishedTable`` member and a ``date``, under the resolved exports folder,
    and every component below it is checked with ``lstat``: table and partition folders must be real
    folders and the files regular files, so a symlink can never lead a read outside ``exports/``.
    """

    def __init__(self, exports_dir: Path) -> None:
        self.exports_dir = Path(exports_dir).resolve()
        # (manifest stat, parquet stat) -> parsed manifest + sha256, so a rerun that renames a new
        # partition into place is seen at once, and an unchanged one is not parsed again.
        self._manifests: dict[tuple, tuple[dict[str, Any], str]] = {}
        self._latest: dict[str, tuple[tuple, str]] = {}

    # --- paths ------------------------------------------------------------------------------------
    def _under(self, *names: str) -> Path:
        for name in names:
            if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
                raise UnsafePathError(f"refusing path component {name!r}")
        return self.exports_dir.joinpath(*names)

    def table_dir(self, table: PublishedTable) -> Path:
        return self._under(PublishedTable(table).value)

    def partition_dir(self, table: PublishedTable, ds: date) -> Path:
        if not isinstance(ds, date):
            raise TypeError(f"ds must be a datetime.date, got {type(ds).__name__}")
        return self._under(PublishedTable(table).value, f"ds={ds.isoformat()}")

    @staticmethod
    def _lstat(path: Path, kind: int) -> os.stat_result | None:
        """``lstat`` of ``path`` if it is of ``kind`` (S_IFDIR / S_IFREG); a symlink never is."""
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if stat.S_IFMT(st.st_mode) != kind:
            if stat.S_ISLNK(st.st_mode):
                log.error("refusing symlink %s in the exports folder", path)
            return None
        return st

    # --- what is published --------------------------------------------------------------------------
    def dates(self, table: PublishedTable) -> list[date]:
        """Visible partitions of ``table``, oldest first."""
        tdir = self.table_dir(table)
        if self._lstat(tdir, stat.S_IFDIR) is None:
            return []
        found = []
        for name in os.listdir(tdir):
            match = _DS_DIR.match(name)
            if not match:
                continue
            try:
                ds = date.fromisoformat(match.group(1))
            except ValueError:
                continue
            if self.partition(table, ds) is not None:
                found.append(ds)
        return sorted(found)

    def latest(self, table: PublishedTable) -> date | None:
        """The ds in ``LATEST`` if that partition is visible, else the newest visible partition."""
        latest_file = self.table_dir(table) / LATEST_FILE
        st = self._lstat(latest_file, stat.S_IFREG) if self._table_ok(table) else None
        if st is not None:
            key = (st.st_mtime_ns, st.st_size, st.st_ino)
            cached = self._latest.get(str(latest_file))
            text = cached[1] if cached is not None and cached[0] == key else None
            try:
                if text is None:
                    text = latest_file.read_text(encoding="utf-8").strip()
                    self._latest[str(latest_file)] = (key, text)
                ds = date.fromisoformat(text)
                if self.partition(table, ds) is not None:
                    return ds
                log.warning("%s names ds=%s, which is not a complete partition", latest_file, text)
            except (OSError, ValueError):
                pass
        dates = self.dates(table)
        return dates[-1] if dates else None

    def _table_ok(self, table: PublishedTable) -> bool:
        return self._lstat(self.table_dir(table), stat.S_IFDIR) is not None

    def partition(self, table: PublishedTable, ds: date) -> Partition | None:
        """The complete partition (``_SUCCESS`` + manifest + Parquet file), or None."""
        table = PublishedTable(table)
        pdir = self.partition_dir(table, ds)
        if not self._table_ok(table) or self._lstat(pdir, stat.S_IFDIR) is None:
            return None
        parquet, manifest_path = pdir / PART_FILE, pdir / MANIFEST_FILE
        pst = self._lstat(parquet, stat.S_IFREG)
        mst = self._lstat(manifest_path, stat.S_IFREG)
        if pst is None or mst is None or self._lstat(pdir / SUCCESS_FILE, stat.S_IFREG) is None:
            return None
        try:
            manifest, sha = self._manifest(manifest_path, mst, parquet, pst)
        except (OSError, ValueError) as exc:
            log.warning("partition %s ds=%s is not readable: %s", table.value, ds, exc)
            return None
        if manifest.get("table", table.value) != table.value or str(manifest.get("ds", ds)) != str(ds):
            log.warning("manifest of %s ds=%s names another table/ds; ignoring the partition", table, ds)
            return None
        return Partition(table=table, ds=ds, directory=pdir, manifest=manifest, sha256=sha)

    def _manifest(
        self, manifest_path: Path, mst: os.stat_result, parquet: Path, pst: os.stat_result
    ) -> tuple[dict[str, Any], str]:
        cache_key = (
            str(manifest_path),
            mst.st_mtime_ns,
            mst.st_size,
            mst.st_ino,
            pst.st_mtime_ns,
            pst.st_ino,
        )
        cached = self._manifests.get(cache_key)
        if cached is not None:
            return cached
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError(f"{manifest_path} is not a JSON object")
        # The manifest's hash is the partition's identity (ETag, cache key); hash the file only
        # when the manifest does not record it.
        sha = file_sha256(manifest) or sha256_of(parquet)
        if len(self._manifests) > 4096:
            self._manifests.clear()
        self._manifests[cache_key] = (manifest, sha)
        return manifest, sha
