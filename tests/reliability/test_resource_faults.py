"""Resource faults: a tiny DuckDB memory limit, a capped temp directory.

Each case runs the real ``trust-dw run`` for the last ds, from the clean reference's state before it, with
``TRUST_DW_MEMORY_LIMIT`` / ``TRUST_DW_MAX_TEMP_DIRECTORY_SIZE`` (read by the ingest's connections and the dbt
profile). A run under such limits either completes — and then publishes exactly what the unconstrained
reference published — or fails with a clear message: the failed stage marked, DuckDB's "Out of Memory" (or
temp-directory) error, the feed or the model named, no traceback; and the published state is untouched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from reliability_support import (
    PUBLISHED,
    assert_same_publication,
    copy_home,
    published_state,
    record,
    run_ds,
    trust_dw,
)
from trust_dw.feeds import FEED_NAMES

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

DS = PUBLISHED[-1]
STAGES = ("ingest", "dbt", "gate", "publish")


@dataclass(frozen=True)
class Case:
    name: str
    from_stage: str  # the stages before it ran without limits
    memory_limit: str
    max_temp: str | None = None


CASES = [
    Case("whole run under a 16MB memory limit", "ingest", "16MB"),
    Case("dbt build under a 24MB memory limit", "dbt", "24MB"),
    Case("64MB memory limit, temp directory capped at 1MB", "dbt", "64MB", "1MB"),
]


@pytest.fixture(scope="module")
def ingested(reference, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The state before the last ds, with that ds ingested without limits."""
    home = copy_home(reference.at(PUBLISHED[-2]), tmp_path_factory.mktemp("resource") / "ingested").home
    run_ds(home, DS, "ingest")
    return home


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_constrained_run_completes_identically_or_fails_clearly_publishing_nothing(
    case: Case, reference, ingested: Path, tmp_path: Path
) -> None:
    start = reference.at(PUBLISHED[-2]) if case.from_stage == "ingest" else ingested
    home = copy_home(start, tmp_path / "home").home
    before = published_state(home)
    env = {"TRUST_DW_MEMORY_LIMIT": case.memory_limit}
    if case.max_temp:
        env["TRUST_DW_MAX_TEMP_DIRECTORY_SIZE"] = case.max_temp
    stages = [a for s in STAGES[STAGES.index(case.from_stage) :] for a in ("--stage", s)]
    done = trust_dw(home, "run", "--ds", DS, *stages, **env)
    output = done.stdout + done.stderr
    if done.returncode == 0:
        assert_same_publication(home, reference.last, PUBLISHED)
        record("resource faults: constrained runs that completed, outputs identical", 1)
        return
    assert done.returncode == 1, output[-3000:]
    failed = re.findall(r"^✗ (\w+)", done.stdout, flags=re.M)
    assert len(failed) == 1, output[-3000:]
    assert re.search(r"Out of Memory Error|max_temp_directory_size", output), output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert "Cannot switch temporary directory" not in output, (
        "a spilling build must not trip over its temp dir"
    )
    if failed == ["ingest"]:  # the feed and ds are named
        assert re.search(rf"({'|'.join(FEED_NAMES)}) {DS}: loading", output), output[-3000:]
    if failed == ["dbt"]:  # the model is named
        assert re.search(r"model\.trust_dw\.\w+: error", output), output[-3000:]
    after = published_state(home)
    assert (after.partitions, after.latest, after.serving_rows) == (
        before.partitions,
        before.latest,
        before.serving_rows,
    )
    record("resource faults: constrained runs that failed clearly, nothing published", 1)
