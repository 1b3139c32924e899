"""Shared pytest setup: telemetry off, and a fresh TRUST_DW_HOME per test that asks for one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from trust_dw.config import Settings

# No telemetry may try the network (DESIGN §11): set before any of these libraries is imported.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("SCARF_ANALYTICS", "false")


@pytest.fixture
def dw_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh TRUST_DW_HOME for one test."""
    home = tmp_path / "dw"
    monkeypatch.setenv("TRUST_DW_HOME", str(home))
    return home


@pytest.fixture
def settings(dw_home: Path) -> Settings:
    s = Settings.from_env()
    s.ensure_dirs()
    return s
