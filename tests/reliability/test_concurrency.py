"""Concurrency: two runs of the same ds started at once, with BI readers querying the serving file throughout.

The corrected re-delivery of the last ds (fixture ``redelivery``) is started twice at the same moment,
while reader processes (``bi_reader.py``) query the serving file read-only in a loop — from before the runs
start until after they end; two reconnect every round (a dashboard), one holds a single connection (a SQL
client). Exactly one run proceeds; the other stops at once with a message naming the run that holds the home
(``trust_dw.runlock``), having changed nothing. Every answer the readers got is one a consistent published
state gives — the wrongly published ds before the run, the corrected one after — never an error, never a mix.
The partition being replaced is swapped in place (the republish path), the hardest case for a reader.
"""

from __future__ import annotations

from collections import Counter

import pytest
from bi_reader import QUERIES
from reliability_support import PUBLISHED, record

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

DS = PUBLISHED[-1]


def test_exactly_one_run_proceeds_and_the_other_stops_at_once_naming_it(redelivery) -> None:
    race = redelivery.race
    codes = sorted(r.returncode for r in race.runs)
    assert codes == [0, 1], [r.stdout[-2000:] for r in race.runs]
    loser = next(i for i, r in enumerate(race.runs) if r.returncode == 1)
    winner = 1 - loser
    message = " ".join(race.runs[loser].stdout.split())
    assert "another run is in progress on" in message and f"ds={DS}" in message, message
    assert "nothing was changed" in message
    assert race.finished_at[loser] < race.finished_at[winner], "the second run waited for the first to end"
    for stage in ("ingest", "dbt", "gate", "publish"):
        assert f"✓ {stage}" in race.runs[winner].stdout
        assert f"✓ {stage}" not in race.runs[loser].stdout
    record("concurrency: simultaneous runs of one ds, the second refused", 1)


def test_bi_readers_never_see_an_error_or_a_torn_result(redelivery) -> None:
    before, after = redelivery.wrong_answers, redelivery.final_answers
    assert before != after
    seen: Counter[str] = Counter()
    for log in redelivery.race.reader_logs:
        for line in log:
            assert "error" not in line, line
            name, answer = line["query"], line["answer"]
            if name == "shop_scores_by_ds":  # per ds: that ds's rows before or after, never a part of them
                valid = [{row[0]: row for row in state[name]} for state in (before, after)]
                assert all(row in (valid[0].get(row[0]), valid[1].get(row[0])) for row in answer), answer
                assert {row[0] for row in answer} == set(PUBLISHED), answer
            else:
                assert answer in (before[name], after[name]), (name, answer)
            seen["before" if answer == before[name] else "after" if answer == after[name] else "per-ds"] += 1
    queries = sum(len(log) for log in redelivery.race.reader_logs)
    assert queries >= 3 * len(QUERIES) * len(redelivery.race.reader_logs)
    assert seen["before"] and seen["after"], f"the readers did not span the publish: {seen}"
    record("concurrency: BI reader queries during the runs, none failed or torn", queries)
