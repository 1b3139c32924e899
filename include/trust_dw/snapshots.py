"""The consumers' view of the published snapshots (DESIGN §9): what is visible, and how to read it.

The publish stage writes, per table and ds::

    exports/<table>/ds=YYYY-MM-DD/part-0.parquet
    exports/<table>/ds=YYYY-MM-DD/_manifest.json
    exports/<table>/ds=YYYY-MM-DD/_SUCCESS
    exports/<table>/LATEST                       (the newest published ds, as text)

A partition is *visible* only when its folder holds all three files and the manifest is a JSON object
that names the same table and ds. Everything here only reads: nothing is created, locked or written,
and no path is built from anything but a ``PublishedTable`` member and a ``datetime.date``; every
path is resolved and checked to stay under the exports folder before it is used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

PARQUET_NAME = "part-0.parquet"
MANIFEST_NAME = "_manifest.json"
SUCCESS_NAME = "_SUCCESS"
LATEST_NAME = "LATEST"
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
    PublishedTable.shop_scores_daily: ("ds", "shop_id"),
    PublishedTable.creator_scores_daily: ("ds", "creator_id"),
    PublishedTable.product_tiers_daily: ("ds", "product_id"),
    PublishedTable.provider_tiers_daily: ("ds", "provider_id"),
    PublishedTable.flow_allocation_daily: ("ds", "pool_id", "recipient_type", "recipient_id"),
}


class UnsafePathError(RuntimeError):
    """A resolved path left the exports folder (a symlink pointing out, for instance)."""


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
        return self.directory / PARQUET_NAME

    @property
    def rows(self) -> int | None:
        rows = self.manifest.get("rows")
        return rows if isinstance(rows, int) else None

    def read(self, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(self.parquet_path, columns=columns)


def file_sha256(manifest: dict[str, Any], name: str = PARQUET_NAME) -> str | None:
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
    """Read-only access to ``exports/``. Cheap to create; every call looks at the disk again."""

    def __init__(self, exports_dir: Path) -> None:
        self.exports_dir = Path(exports_dir).resolve()
        # (path, mtime_ns, size, inode) -> parsed manifest + sha256, so a rerun that renames a new
        # partition into place is seen at once, and an unchanged one is not parsed again.
        self._manifests: dict[tuple[str, int, int, int], tuple[dict[str, Any], str]] = {}

    # --- paths ------------------------------------------------------------------------------------
    def _safe(self, path: Path) -> Path:
        resolved = path.resolve()
        if not resolved.is_relative_to(self.exports_dir):
            raise UnsafePathError(f"{path} resolves to {resolved}, outside {self.exports_dir}")
        return resolved

    def table_dir(self, table: PublishedTable) -> Path:
        return self._safe(self.exports_dir / PublishedTable(table).value)

    def partition_dir(self, table: PublishedTable, ds: date) -> Path:
        if not isinstance(ds, date):
            raise TypeError(f"ds must be a datetime.date, got {type(ds).__name__}")
        return self._safe(self.table_dir(table) / f"ds={ds.isoformat()}")

    # --- what is published --------------------------------------------------------------------------
    def dates(self, table: PublishedTable) -> list[date]:
        """Visible partitions of ``table``, oldest first."""
        tdir = self.table_dir(table)
        if not tdir.is_dir():
            return []
        found = []
        for child in tdir.iterdir():
            match = _DS_DIR.match(child.name)
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
        latest_file = self.table_dir(table) / LATEST_NAME
        try:
            text = self._safe(latest_file).read_text(encoding="utf-8").strip()
            ds = date.fromisoformat(text)
            if self.partition(table, ds) is not None:
                return ds
            log.warning("%s names ds=%s, which is not a complete partition", latest_file, text)
        except (OSError, ValueError, UnsafePathError):
            pass
        dates = self.dates(table)
        return dates[-1] if dates else None

    def partition(self, table: PublishedTable, ds: date) -> Partition | None:
        """The complete partition (``_SUCCESS`` + manifest + Parquet file), or None."""
        table = PublishedTable(table)
        try:
            pdir = self.partition_dir(table, ds)
            parquet = self._safe(pdir / PARQUET_NAME)
            manifest_path = self._safe(pdir / MANIFEST_NAME)
            if not (self._safe(pdir / SUCCESS_NAME).is_file() and parquet.is_file()):
                return None
            manifest, sha = self._manifest(manifest_path, parquet)
        except UnsafePathError as exc:
            log.error("refusing a partition outside the exports folder: %s", exc)
            return None
        except (OSError, ValueError) as exc:
            log.warning("partition %s ds=%s is not readable: %s", table.value, ds, exc)
            return None
        if manifest.get("table", table.value) != table.value or str(manifest.get("ds", ds)) != str(ds):
            log.warning("manifest of %s ds=%s names another table/ds; ignoring the partition", table, ds)
            return None
        return Partition(table=table, ds=ds, directory=pdir, manifest=manifest, sha256=sha)

    def _manifest(self, manifest_path: Path, parquet: Path) -> tuple[dict[str, Any], str]:
        st = manifest_path.stat()
        pst = parquet.stat()
        cache_key = (str(manifest_path), st.st_mtime_ns, st.st_size, st.st_ino, pst.st_mtime_ns, pst.st_ino)
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
