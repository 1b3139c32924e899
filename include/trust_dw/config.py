"""Paths and operational settings, all read from environment variables.

Business constants (weights, thresholds, pools) are NOT here: they live in dbt seeds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


DEFAULT_MEMORY_LIMIT = "3GB"
# DuckDB's default cap on its spill files, as DuckDB itself spells it (and accepts it in a SET).
DUCKDB_DEFAULT_MAX_TEMP_DIRECTORY_SIZE = "90% of available disk space"


@dataclass(frozen=True)
class Settings:
    """Where everything lives. Every path derives from ``TRUST_DW_HOME`` (default ``./var``)."""

    home: Path
    repo_root: Path = REPO_ROOT
    # DuckDB's memory_limit. A process running dbt peaks ~0.75 GB above it (dbt, Python, what DuckDB
    # allocates outside its buffer manager): 3GB keeps a medium day under a 4 GB budget (bench/README.md).
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    threads: int = 2
    # Cap on DuckDB's spill files (e.g. "20GB"); None = DuckDB's default, 90% of the free disk space.
    max_temp_directory_size: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(_env("TRUST_DW_HOME", "var")).expanduser().resolve()
        return cls(
            home=home,
            repo_root=Path(_env("TRUST_DW_REPO", str(REPO_ROOT))).resolve(),
            memory_limit=_env("TRUST_DW_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT),
            threads=int(_env("TRUST_DW_THREADS", str(os.cpu_count() or 2))),
            max_temp_directory_size=os.environ.get("TRUST_DW_MAX_TEMP_DIRECTORY_SIZE") or None,
        )

    # --- inputs -------------------------------------------------------------------------------
    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    def feed_ds_dir(self, feed: str, ds: str) -> Path:
        """``landing/<feed>/ds=YYYY-MM-DD`` (DESIGN §3)."""
        return self.landing_dir / feed / f"ds={ds}"

    # --- the working warehouse (never point BI here) ------------------------------------------
    @property
    def warehouse_dir(self) -> Path:
        return self.home / "warehouse"

    @property
    def warehouse_path(self) -> Path:
        return Path(_env("TRUST_DW_WAREHOUSE", str(self.warehouse_dir / "trust_dw.duckdb")))

    @property
    def duckdb_temp_dir(self) -> Path:
        return self.home / "tmp" / "duckdb"

    def duckdb_max_temp_size(self) -> str:
        """``max_temp_directory_size`` as DuckDB takes it; the default is DuckDB's own, by its own name.

        Not a figure computed from the free disk: the value is part of the dbt profile, whose hash dbt
        compares to decide whether its saved parse can be reused, so a figure that moved with the free
        space made every run re-parse the whole project.
        """
        return self.max_temp_directory_size or DUCKDB_DEFAULT_MAX_TEMP_DIRECTORY_SIZE

    # --- outputs --------------------------------------------------------------------------------
    @property
    def serving_path(self) -> Path:
        return self.home / "serving" / "trust_dw.duckdb"

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"

    @property
    def gx_dir(self) -> Path:
        """Validation results and Data Docs (HTML)."""
        return self.home / "gx"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    # --- code -----------------------------------------------------------------------------------
    @property
    def dbt_project_dir(self) -> Path:
        return self.repo_root / "dbt_project"

    @property
    def expectations_dir(self) -> Path:
        return self.repo_root / "expectations"

    def ensure_dirs(self) -> None:
        for d in (self.landing_dir, self.warehouse_dir, self.duckdb_temp_dir, self.logs_dir):
            d.mkdir(parents=True, exist_ok=True)
