"""The performance benchmark of the daily run (issue 7): ``trust-dw bench`` / ``make bench SCALE=…``.

What one benchmark does, under its own ``TRUST_DW_HOME`` (default ``/tmp/trust_dw_bench/pipeline/<scale>``,
or ``$TRUST_DW_BENCH_HOME/<scale>``; never the repository):

1. generates the landing files of ``days`` business dates from ``start`` (or reuses them when the fault
   manifests say they were generated with the same scale, seed and start) — ``driver``;
2. runs the pipeline for every ds in order, each ds in a fresh child process (``python -m trust_dw.bench
   day``) that calls the stage functions in-process — ingest per feed, one ``dbt build``, the Great
   Expectations gate, publish — and records per stage: wall and CPU seconds, rows in/out, rows per second,
   peak RSS (``VmHWM``, reset per stage) and the DuckDB temp-directory size (sampled: the spill); dbt per
   model group from ``run_results.json`` — ``day``, ``measure``. Days already run in this home are reused
   (the history), except the last day, which is always run (again) and measured;
3. verifies each day's outputs, so a fast wrong run cannot pass — ``verify``;
4. measures the *floor* of the measured days: one DuckDB query that reads the day's landing files once
   (every contract column, typed) and writes as many rows as the day's published tables hold — ``floor``;
5. optionally measures Airflow's own overhead: the last ds again in-process and through ``airflow dags
   test`` (both with the ingest forced to reload) — ``driver``;
6. writes ``bench/results/<name>.json`` and ``<name>.md`` (tables, targets, machine) — ``report``.

Speed is measured and printed here, never asserted by a test. See bench/README.md.
"""
