"""Measuring a process: wall/CPU time, peak RSS per stage (``VmHWM``), DuckDB temp-dir spill, the machine."""

from __future__ import annotations

import os
import platform
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trust_dw.config import REPO_ROOT

MiB = 1024 * 1024
BENCH_DIR = "bench"  # under TRUST_DW_HOME: day records, logs, floor output


def _status_kib(field_name: str) -> int:
    """A ``VmRSS``/``VmHWM`` line of ``/proc/self/status`` in KiB (0 where /proc is not there)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def process_rss_kib(pid: int) -> int:
    """Resident set size of another process in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def own_peak_rss_kib() -> int:
    """This process's own RSS high-water mark in KiB: ``VmHWM`` (since the last reset, if any).

    Not ``getrusage().ru_maxrss``: Linux carries that across ``execve``, and ``subprocess`` starts a child
    with ``vfork``, so a day's child process would report its parent's peak (a parent that just generated
    the large landing files peaks at ~6.9 GB). ``ru_maxrss`` only where ``/proc`` is not there.
    """
    hwm = _status_kib("VmHWM")
    if hwm:
        return hwm
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def cpu_ticks(stat_text: str | None = None) -> tuple[int, int] | None:
    """(steal, total) clock ticks of all CPUs since boot, from the ``cpu`` line of ``/proc/stat``.

    Steal is the time a virtual CPU was ready to run but the hypervisor ran something else: on a shared
    VM it makes every wall time longer while this machine's own load stays the same. None where
    ``/proc/stat`` is not there.
    """
    if stat_text is None:
        try:
            stat_text = Path("/proc/stat").read_text(encoding="ascii")
        except OSError:
            return None
    for line in stat_text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            # user nice system idle iowait irq softirq steal [guest guest_nice: already in user, nice]
            ticks = [int(v) for v in fields[1:9]]
            ticks += [0] * (8 - len(ticks))
            return ticks[7], sum(ticks)
    return None


def steal_percent(start: tuple[int, int] | None, end: tuple[int, int] | None) -> float | None:
    """The share (%) of the machine's CPU time between two ``cpu_ticks`` readings that was stolen."""
    if start is None or end is None or end[1] <= start[1]:
        return None
    return round(100.0 * (end[0] - start[0]) / (end[1] - start[1]), 1)


def _reset_peak_rss() -> bool:
    """Reset the process's RSS high-water mark (``VmHWM``), so the next reading is this stage's peak."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def dir_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (0 if it does not exist); files vanishing meanwhile are skipped."""
    total = 0
    stack = [path]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                else:
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


class Sampler:
    """A background thread sampling RSS and the DuckDB temp directory (spill) every ``interval`` s."""

    def __init__(self, temp_dir: Path, interval: float = 0.2) -> None:
        self.temp_dir = temp_dir
        self.interval = interval
        self.peak_rss_kib = 0
        self.peak_spill = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        self.peak_rss_kib = max(self.peak_rss_kib, _status_kib("VmRSS"))
        self.peak_spill = max(self.peak_spill, dir_bytes(self.temp_dir))

    def reset(self) -> None:
        self.peak_rss_kib = 0
        self.peak_spill = 0

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class StageRecord:
    """One timed piece of a day's run: ``ingest orders``, ``dbt core``, ``gate``, ``publish``, …"""

    name: str
    wall_s: float
    cpu_s: float | None = None
    rows_in: int | None = None
    rows_out: int | None = None
    peak_rss_mib: float | None = None
    spill_mib: float | None = None
    detail: str = ""

    @property
    def rows_per_s(self) -> float | None:
        rows = self.rows_out if self.rows_out is not None else self.rows_in
        return rows / self.wall_s if rows and self.wall_s > 0 else None


@contextmanager
def measure(name: str, sampler: Sampler, stages: list[StageRecord]) -> Iterator[StageRecord]:
    """Time a stage; peak RSS from ``VmHWM`` (reset at the start) and the sampler, spill from the sampler."""
    reset = _reset_peak_rss()
    sampler.reset()
    sampler.sample()
    record = StageRecord(name=name, wall_s=0.0)
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield record
    finally:
        record.wall_s = round(time.perf_counter() - wall, 3)
        record.cpu_s = round(time.process_time() - cpu, 3)
        sampler.sample()
        hwm = _status_kib("VmHWM") if reset else 0
        record.peak_rss_mib = round(max(hwm, sampler.peak_rss_kib) / 1024, 1)
        record.spill_mib = round(sampler.peak_spill / MiB, 1)
        stages.append(record)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    from importlib.metadata import PackageNotFoundError, version

    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        meminfo = Path("/proc/meminfo").read_text(encoding="ascii")
        kib = int(next(line for line in meminfo.splitlines() if line.startswith("MemTotal:")).split()[1])
        info["memory_gib"] = round(kib / MiB, 1)
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
        info["cpu"] = next(
            (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
            platform.processor(),
        )
    except (OSError, StopIteration):
        pass
    packages = {}
    for name in ("duckdb", "dbt-core", "dbt-duckdb", "great-expectations", "pyarrow", "apache-airflow"):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    info["packages"] = packages
    # TRUST_DW_BENCH_COMMIT names the code when it runs from an exported tree (git archive) without .git.
    info["commit"] = os.environ.get("TRUST_DW_BENCH_COMMIT")
    with suppress(OSError, subprocess.SubprocessError):
        info["commit"] = (
            info["commit"]
            or subprocess.run(
                ["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"],
                capture_output=True,
                text=True,
                check=True,
                timeout=10,
            ).stdout.strip()
        )
    return info


def say(text: str) -> None:
    print(text, flush=True)
