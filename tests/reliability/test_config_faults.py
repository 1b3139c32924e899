"""Config faults: broken business constants in the dbt seeds stop the build early, naming the seed rows.

A copy of the dbt project gets five faults at once — a dimension whose indicator weights do not sum to 1, an
indicator of the published contract with no anchor row, a negative cap on a pool part, a negative deduction
cap, a pool part of an unknown pool — and the real pipeline runs from ``dbt build`` on the reference's
working file. The build fails on the seed checks (``dbt_project/tests/seeds/``, run right after the seeds
load) with one message naming every faulty file and row; no score, tier or allocation model is built from the
broken constants; the gate and publish never run, so the published state is untouched.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from reliability_support import PUBLISHED, copy_home, published_state, record
from trust_dw import pipeline
from trust_dw.config import Settings
from trust_dw.dbt_runner import DbtError

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

DS = PUBLISHED[-1]
ANCHORS = "seeds/scoring/score_indicator_anchors.csv"
PARTS = "seeds/flow/flow_pool_parts.csv"
DEDUCTIONS = "seeds/scoring/score_deduction_policies.csv"
# Models that read the broken seeds, directly or not: none may be built.
DOWNSTREAM = {
    "int_shop_indicator_scores", "int_creator_indicator_scores", "int_product_indicator_scores",
    "int_provider_indicator_scores", "int_flow_allocation", "shop_scores_daily", "creator_scores_daily",
    "product_tiers_daily", "provider_tiers_daily", "flow_allocation_daily",
}  # fmt: skip

# (file, line as it is, line as the fault makes it (None: removed), what the error must say)
FAULTS = [
    (
        ANCHORS,
        "shop,logistics,0.30,avg_delivery_hours,0.5,48,120,linear",
        "shop,logistics,0.30,avg_delivery_hours,0.4,48,120,linear",
        f"{ANCHORS}: score_name=shop, dimension=logistics (avg_delivery_hours 0.4, collect_48h_rate 0.5): "
        "indicator weights sum to 0.9, not 1",
    ),
    (
        ANCHORS,
        "creator,sold_goods,0.40,dispute_rate,0.2,0.001,0.02,linear",
        None,
        f"{ANCHORS}: score_name=creator, indicator=dispute_rate: missing: the published contract of the "
        "creator score has dispute_rate and dispute_rate_score, the seed has no anchor row for it",
    ),
    (
        PARTS,
        "cold_start,1,shop,1.0,0.02",
        "cold_start,1,shop,1.0,-0.02",
        f"{PARTS}: pool_id=cold_start, part_order=1: cap -0.020000 is outside (0, 1]",
    ),
    (
        PARTS,
        "selected_goods,1,product,1.0,0.01",
        "selected_goods,1,product,1.0,0.01\nflash_sale,1,shop,1.0,0.01",
        f"{PARTS}: pool_id=flash_sale, part_order=1: unknown pool flash_sale: not in flow_pools",
    ),
    (
        DEDUCTIONS,
        "provider,30,20",
        "provider,30,-20",
        f"{DEDUCTIONS}: score_name=provider: deduction_cap -20.0 is negative or missing",
    ),
]


def broken_project(repo: Path) -> None:
    """A copy of dbt_project/ (and expectations/) under ``repo`` with every fault of FAULTS applied."""
    source = Settings.from_env().repo_root  # TRUST_DW_REPO, else this checkout
    skip = shutil.ignore_patterns("target", "logs")
    shutil.copytree(source / "dbt_project", repo / "dbt_project", ignore=skip)
    shutil.copytree(source / "expectations", repo / "expectations")
    for file, line, faulty, _ in FAULTS:
        path = repo / "dbt_project" / file
        lines = path.read_text(encoding="utf-8").splitlines()
        assert line in lines, f"{file} no longer has the line {line!r}: update FAULTS"
        lines = [faulty if x == line else x for x in lines if not (x == line and faulty is None)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def failed_build(reference, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("config")
    broken_project(root / "repo")
    home = copy_home(reference.last, root / "home").home
    before = published_state(home)
    settings = Settings(home=home, repo_root=root / "repo", threads=2)
    run = pipeline.run_ds(settings, DS, pipeline.select_stages(["dbt", "gate", "publish"]))
    return run, home, before, published_state(home)


def test_the_build_fails_naming_every_faulty_seed_row(failed_build) -> None:
    run, _, _, _ = failed_build
    assert not run.ok and run.failed.stage == "dbt"
    assert isinstance(run.failed.error, DbtError)
    message = str(run.failed.error)
    for _, _, _, expected in FAULTS:
        assert expected in message, f"missing from the error:\n  {expected}\n--- error ---\n{message}"
    failed = run.failed.error.failed_nodes
    assert {"test.trust_dw.seed_score_indicator_anchors", "test.trust_dw.seed_flow_pools",
            "test.trust_dw.seed_score_policies"} <= set(failed)  # fmt: skip
    record("config faults: broken seed rows named by the failed build", len(FAULTS))


def test_nothing_is_scored_with_broken_constants(failed_build) -> None:
    """dbt's own record of the run: every score, tier and allocation model was skipped, none was built."""
    _, home, _, _ = failed_build
    results = json.loads((home / "dbt" / "target" / "run_results.json").read_text())["results"]
    status = {r["unique_id"]: r["status"] for r in results}
    downstream = [n for n in status if n.startswith("model.") and n.split(".")[-1] in DOWNSTREAM]
    assert len(downstream) == len(DOWNSTREAM), sorted(DOWNSTREAM - {n.split(".")[-1] for n in downstream})
    assert {n: status[n] for n in downstream} == dict.fromkeys(downstream, "skipped")


def test_the_gate_and_publish_never_ran_and_the_published_state_is_untouched(failed_build) -> None:
    run, _, before, after = failed_build
    assert [o.stage for o in run.outcomes] == ["dbt"]
    assert after.partitions == before.partitions and after.latest == before.latest
    assert after.serving_rows == before.serving_rows
