"""Connections to the working DuckDB file, configured the same way everywhere.

DuckDB allows one writer per file (DESIGN §11): every writer goes through ``connect()`` and the
Airflow pool ``duckdb_writer`` (size 1) serialises writer tasks. BI never opens this file.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from trust_dw.config import Settings


def connect(
    settings: Settings, read_only: bool = False, path: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the working file (or ``path``) with the project's memory, temp and thread settings."""
    target = Path(path or settings.warehouse_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    settings.duckdb_temp_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "memory_limit": settings.memory_limit,
        "temp_directory": str(settings.duckdb_temp_dir),
        "threads": settings.threads,
        "preserve_insertion_order": False,
    }
    if settings.max_temp_directory_size:
        config["max_temp_directory_size"] = settings.max_temp_directory_size
    return duckdb.connect(str(target), read_only=read_only, config=config)
