"""Fixtures of the reliability suite (docs/guarantees.md); the helpers live in reliability_support.

The session builds one clean reference — generated landing data, then the real pipeline for each published
ds — and keeps a pristine copy of ``TRUST_DW_HOME`` after each ds; tests copy the state they start from.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from reliability_support import (
    DATES,
    FIGURES,
    PUBLISHED,
    SCALE,
    PublishedState,
    Race,
    build_published_history,
    copy_home,
    cpu_seconds,
    generate,
    published_state,
    race_two_runs,
    record,
    run_ds,
    serving_answers,
    sha256,
)
from wrong_drops import as_csv, read_rows, redeliver, wrong_orders, wrong_shops


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if not FIGURES:
        return
    terminalreporter.section(f"reliability figures (scale {SCALE})")
    for name, value in sorted(FIGURES.items()):
        terminalreporter.write_line(f"{name}: {value:,}")
    target = os.environ.get("TRUST_DW_RELIABILITY_FIGURES")
    if target:
        Path(target).write_text(json.dumps({"scale": SCALE, **FIGURES}, indent=2, sort_keys=True) + "\n")


@dataclass(frozen=True)
class Reference:
    """The clean, uninterrupted reference run: a pristine home per published ds (state right after it)."""

    homes: dict[str, Path]

    def at(self, ds: str) -> Path:
        return self.homes[ds]

    @property
    def last(self) -> Path:
        return self.homes[PUBLISHED[-1]]


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The clean reference. ``TRUST_DW_RELIABILITY_REFERENCE=<dir>`` keeps it in <dir> and reuses it in later
    sessions (built once there, for the same scale; remove the folder after changing the code)."""
    kept = os.environ.get("TRUST_DW_RELIABILITY_REFERENCE")
    root = Path(kept) / SCALE if kept else tmp_path_factory.mktemp("reference")
    homes = {ds: root / f"after-{ds}" for ds in PUBLISHED}
    complete = root / "complete"
    if not complete.exists():
        started = cpu_seconds()
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        work = root / "work"
        generate(work)
        build_published_history(work, homes)
        complete.touch()
        record("cpu seconds: clean reference", round(cpu_seconds() - started))
    return Reference(homes)


@dataclass
class FaultyHistory:
    """The reference's seed generated again with duplicate and late CDC rows, run the same way."""

    home: Path
    injected: dict[str, int]  # fault kind -> rows injected over every ds


@pytest.fixture(scope="session")
def faulty_history(tmp_path_factory: pytest.TempPathFactory) -> FaultyHistory:
    started = cpu_seconds()
    home = tmp_path_factory.mktemp("faulty") / "home"
    generate(home, faults="duplicates,late")
    injected = {"duplicates": 0, "late": 0}
    for ds in DATES:
        counts = json.loads((home / "landing" / "_faults" / f"ds={ds}.json").read_text())["counts"]
        for kind in injected:
            injected[kind] += counts[kind]
    build_published_history(home)
    record("cpu seconds: faulty history", round(cpu_seconds() - started))
    return FaultyHistory(home, injected)


@dataclass
class Redelivery:
    """From the reference's state before the last ds: that ds's orders and shops land wrong and are
    published; then the correct files are re-delivered and the ds is run twice at once, with BI readers on
    the serving file throughout (docs/guarantees.md, re-delivery and concurrency)."""

    home: Path
    corrected_files: dict[str, str]  # landing path of a re-delivered file -> its sha256
    wrong_state: PublishedState  # what the wrong drop published
    wrong_answers: dict  # the BI queries' answers on that state (the readers' "before")
    final_answers: dict  # and after the race (the readers' "after")
    race: Race  # the corrected re-delivery, run twice at once


@pytest.fixture(scope="session")
def redelivery(reference, tmp_path_factory: pytest.TempPathFactory) -> Redelivery:
    started = cpu_seconds()
    root = tmp_path_factory.mktemp("redelivery")
    home = copy_home(reference.at(PUBLISHED[-2]), root / "home").home
    last = PUBLISHED[-1]
    corrected: dict[Path, dict[str, str]] = {}
    corrected_files: dict[str, str] = {}
    spoilers = {"orders": lambda header, rows: wrong_orders(header, rows, last), "shops": wrong_shops}
    for feed, spoil in spoilers.items():
        folder = home / "landing" / feed / f"ds={last}"
        [part] = sorted(folder.glob("*.csv"))
        corrected[folder] = {part.name: part.read_text(encoding="utf-8")}
        corrected_files[f"{feed}/ds={last}/{part.name}"] = sha256(part)
        header, rows = read_rows(part)
        redeliver(folder, {part.name: as_csv(header, spoil(header, rows))})
    run_ds(home, last)
    wrong_state, wrong_answers = published_state(home), serving_answers(home)

    for folder, files in corrected.items():
        redeliver(folder, files)
    race = race_two_runs(home, last, root)
    record("cpu seconds: wrong drop and raced re-delivery", round(cpu_seconds() - started))
    return Redelivery(home, corrected_files, wrong_state, wrong_answers, serving_answers(home), race)
