"""One pipeline run per ``TRUST_DW_HOME`` at a time: an advisory lock on ``$TRUST_DW_HOME/run.lock``.

Two ``trust-dw run`` processes on the same home (the same ds started twice, or two ds) would both write the
working file, ``exports/`` and the serving file: each stage opening the working file alone is not enough —
between stages neither holds it, and two publishers delete each other's staging folders. So
:func:`trust_dw.pipeline.run_ds` takes this lock for the whole run; a second run does not wait, it stops
at once with :class:`RunLocked`, whose message names the run holding the lock (pid, ds, start time).

``fcntl.flock`` locks belong to the open file: the kernel releases them when the holder exits, however it
exits (SIGKILL, OOM killer), so a crashed run never leaves a stale lock behind. The file's text only
describes the holder; it is not the lock. (Airflow runs are serialised by the ``duckdb_writer`` pool.)
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from trust_dw.config import Settings

LOCK_FILE = "run.lock"


class RunLocked(RuntimeError):
    """Another run holds the lock of this ``TRUST_DW_HOME``: nothing was done."""


def lock_path(settings: Settings) -> Path:
    return settings.home / LOCK_FILE


@contextmanager
def run_lock(settings: Settings, ds: str) -> Iterator[Path]:
    """Hold the run lock of ``settings.home`` for the block; :class:`RunLocked` if another run has it."""
    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", errors="replace").strip() or "unknown holder"
            raise RunLocked(
                f"another run is in progress on {settings.home} ({holder}); ds={ds} was not started, "
                f"nothing was changed. Wait for it to end, then run again (lock: {path})"
            ) from None
        started = datetime.now(UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, ds={ds}, started {started}\n".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
