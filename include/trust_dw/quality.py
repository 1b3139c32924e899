"""The quality gate (DESIGN §8): Great Expectations suites from ``expectations/`` run on the candidates.

Each file in ``expectations/`` (one per published table, plus the ingest ledger) lists *frames*: a DuckDB
query on the working file (read-only) or a built-in frame, and the expectations to run on the resulting
DataFrame, each marked ``blocking`` or ``warning``. On every run the files are turned into GX suites
(``<file>.<frame>``, add-or-update so reruns never fail on existing suites) in a file-backed GX context under
``$TRUST_DW_HOME/gx``; every result is stored there and Data Docs (HTML) are rebuilt for the run.

GX's SQL datasource over duckdb-engine returns no rows (DESIGN §11), so frames are read with DuckDB and
validated as pandas DataFrames. The gate's verdict is also written to ``gx/gate/ds=<ds>.json`` with a
fingerprint of every candidate table, so :func:`trust_dw.publish.publish` can check that it publishes
exactly what passed.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trust_dw.config import Settings
from trust_dw.feeds import FEEDS
from trust_dw.warehouse import connect

# Before great_expectations is imported anywhere in this process (DESIGN §11: no telemetry).
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

SEVERITIES = ("blocking", "warning")
GX_SEVERITY = {"blocking": "critical", "warning": "warning"}
BUILTIN_FRAMES = ("row_count",)
DATASOURCE = "trust_dw_gate"


class GateFailed(RuntimeError):
    """Blocking expectations failed: nothing may be published for the ds."""

    def __init__(self, result: GateResult):
        self.result = result
        super().__init__(result.message())


class SuiteFileError(ValueError):
    """A file in expectations/ is not a valid suite file."""


# --- the suite files ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectationSpec:
    name: str
    type: str
    kwargs: dict[str, Any]
    severity: str
    description: str | None = None


@dataclass(frozen=True)
class FrameSpec:
    name: str
    expectations: tuple[ExpectationSpec, ...]
    sql: str | None = None
    builtin: str | None = None
    id_columns: tuple[str, ...] = ()
    description: str | None = None


@dataclass(frozen=True)
class SuiteFile:
    name: str  # the file's stem: "shop_scores_daily", "ingest_ledger"
    path: Path
    frames: tuple[FrameSpec, ...]
    table: str | None = None  # the published table it guards
    description: str | None = None


def load_suite_files(expectations_dir: Path) -> list[SuiteFile]:
    """Parse every ``*.yml`` in ``expectations_dir``; errors name the file and the faulty entry."""
    files = sorted(expectations_dir.glob("*.yml"))
    if not files:
        raise SuiteFileError(f"no suite files (*.yml) in {expectations_dir}")
    return [_parse_suite_file(path) for path in files]


def _parse_suite_file(path: Path) -> SuiteFile:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SuiteFileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("frames"), list) or not doc["frames"]:
        raise SuiteFileError(f"{path}: expected a mapping with a non-empty 'frames' list")
    frames, names = [], set()
    for i, raw in enumerate(doc["frames"]):
        where = f"{path}: frames[{i}]"
        if not isinstance(raw, dict) or not raw.get("name"):
            raise SuiteFileError(f"{where}: a frame needs a name")
        if (raw.get("sql") is None) == (raw.get("builtin") is None):
            raise SuiteFileError(f"{where} ({raw['name']}): give exactly one of 'sql' or 'builtin'")
        if raw.get("builtin") is not None and raw["builtin"] not in BUILTIN_FRAMES:
            raise SuiteFileError(f"{where}: unknown builtin {raw['builtin']!r} (known: {BUILTIN_FRAMES})")
        expectations = []
        for j, exp in enumerate(raw.get("expectations") or []):
            at = f"{where}.expectations[{j}]"
            if not isinstance(exp, dict) or not exp.get("name") or not exp.get("type"):
                raise SuiteFileError(f"{at}: an expectation needs a name and a type")
            if exp.get("severity") not in SEVERITIES:
                raise SuiteFileError(f"{at} ({exp['name']}): severity must be one of {SEVERITIES}")
            if exp["name"] in names:
                raise SuiteFileError(f"{at}: expectation name {exp['name']!r} used twice in the file")
            names.add(exp["name"])
            expectations.append(
                ExpectationSpec(
                    name=exp["name"],
                    type=exp["type"],
                    kwargs=dict(exp.get("kwargs") or {}),
                    severity=exp["severity"],
                    description=exp.get("description"),
                )
            )
        if not expectations:
            raise SuiteFileError(f"{where} ({raw['name']}): no expectations")
        frames.append(
            FrameSpec(
                name=raw["name"],
                expectations=tuple(expectations),
                sql=raw.get("sql"),
                builtin=raw.get("builtin"),
                id_columns=tuple(raw.get("id_columns") or ()),
                description=raw.get("description"),
            )
        )
    return SuiteFile(
        name=path.stem,
        path=path,
        frames=tuple(frames),
        table=doc.get("table"),
        description=doc.get("description"),
    )


def _parameters_used(value: Any) -> set[str]:
    if isinstance(value, dict):
        if set(value) == {"$PARAMETER"}:
            return {value["$PARAMETER"]}
        return set().union(*(_parameters_used(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_parameters_used(v) for v in value)) if value else set()
    return set()


# --- the verdict ---------------------------------------------------------------------------------------


@dataclass
class CheckOutcome:
    """One expectation's outcome: ``name`` is ``<file>.<expectation>``."""

    name: str
    severity: str
    success: bool
    detail: str = ""


@dataclass
class GateResult:
    ds: str
    passed: bool
    failed: list[str]  # names of the failed blocking expectations
    warnings: list[str]  # names of the failed warning expectations
    data_docs: Path  # index.html of the Data Docs site
    results_dir: Path  # where GX stored the validation results (JSON)
    checks: list[CheckOutcome] = field(default_factory=list)
    fingerprints: dict[str, dict[str, Any]] = field(default_factory=dict)
    validated_at: str = ""
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase (see validate)

    def message(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        lines = [f"quality gate {verdict} for ds={self.ds}: {len(self.checks)} expectations"]
        for check in self.checks:
            if not check.success:
                label = "blocking" if check.severity == "blocking" else "warning"
                lines.append(f"  {label}: {check.name}{': ' + check.detail if check.detail else ''}")
        lines.append(f"Data Docs: {self.data_docs}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["data_docs"] = str(self.data_docs)
        out["results_dir"] = str(self.results_dir)
        return out

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> GateResult:
        doc = dict(doc)
        doc["data_docs"] = Path(doc["data_docs"])
        doc["results_dir"] = Path(doc["results_dir"])
        doc["checks"] = [CheckOutcome(**c) for c in doc.get("checks", [])]
        return cls(**doc)


def gate_record_path(settings: Settings, ds: str) -> Path:
    return settings.gx_dir / "gate" / f"ds={ds}.json"


def read_gate_result(settings: Settings, ds: str) -> GateResult | None:
    """The last verdict of the gate for ``ds``, or None if the gate never ran for it."""
    path = gate_record_path(settings, ds)
    if not path.exists():
        return None
    return GateResult.from_json(json.loads(path.read_text(encoding="utf-8")))


def data_docs_index(settings: Settings) -> Path:
    return settings.gx_dir / "uncommitted" / "data_docs" / "local_site" / "index.html"


# --- reading the candidates -----------------------------------------------------------------------------


def candidate_fingerprint(con, table: str, ds: str) -> dict[str, Any]:
    """Rows and an order-independent hash of the candidate rows of ``marts.<table>`` for ``ds``."""
    [(rows, digest)] = con.execute(
        f"select count(*), coalesce(sum(hash(t)::hugeint), 0)::varchar "
        f"from (select * from marts.{table} where ds = cast($ds as date)) as t",
        {"ds": ds},
    ).fetchall()
    return {"rows": int(rows), "hash": digest}


def gate_parameters(con) -> dict[str, Any]:
    """Expectation parameters: every row of ``seeds.gate_thresholds`` plus the ones derived from them."""
    try:
        rows = con.execute("select threshold, value from seeds.gate_thresholds").fetchall()
    except Exception as exc:  # duckdb.CatalogException: the seed was not loaded
        raise RuntimeError(
            "seeds.gate_thresholds is missing from the working file: run `dbt seed` "
            "(dbt_project/seeds/quality/gate_thresholds.csv) before the gate"
        ) from exc
    params: dict[str, Any] = {name: float(value) for name, value in rows}
    if "row_count_tolerance" in params:
        params["row_count_ratio_min"] = 1 - params["row_count_tolerance"]
        params["row_count_ratio_max"] = 1 + params["row_count_tolerance"]
    params["expected_feeds"] = sorted(FEEDS)
    return params


def previous_manifest(settings: Settings, table: str, ds: str) -> dict[str, Any] | None:
    """The manifest of the newest complete published partition of ``table`` before ``ds``."""
    table_dir = settings.exports_dir / table
    if not table_dir.is_dir():
        return None
    earlier = sorted(
        (p for p in table_dir.glob("ds=*") if p.name[3:] < ds and (p / "_SUCCESS").exists()),
        key=lambda p: p.name,
    )
    if not earlier:
        return None
    return json.loads((earlier[-1] / "_manifest.json").read_text(encoding="utf-8"))


def _read_frame(con, settings: Settings, suite: SuiteFile, frame: FrameSpec, ds: str, fingerprints):
    import pandas as pd

    if frame.builtin == "row_count":
        if suite.table is None:
            raise SuiteFileError(f"{suite.path}: builtin row_count needs a 'table'")
        rows = fingerprints[suite.table]["rows"]
        prev = previous_manifest(settings, suite.table, ds)
        prev_rows = None if prev is None else int(prev["rows"])
        return pd.DataFrame(
            {
                "table_name": [suite.table],
                "rows": [rows],
                "previous_ds": [None if prev is None else prev["ds"]],
                "previous_rows": [prev_rows],
                "ratio_to_previous": [None if not prev_rows else rows / prev_rows],
            }
        ).astype({"ratio_to_previous": "float64"})
    try:
        return con.execute(frame.sql, {"ds": ds} if "$ds" in frame.sql else None).df()
    except Exception as exc:
        raise RuntimeError(
            f"gate frame {suite.name}.{frame.name} ({suite.path.name}) could not be read from "
            f"{settings.warehouse_path}: {exc}"
        ) from exc


# --- Great Expectations ---------------------------------------------------------------------------------


def _gx_context(settings: Settings):
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    settings.gx_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(settings.home))
    if context.config.analytics_enabled is not False:
        context.enable_analytics(False)
    bars = context.variables.progress_bars
    if (bars.get("globally") if isinstance(bars, dict) else getattr(bars, "globally", True)) is not False:
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.variables.save()
    return context


def _gx_suite(suite: SuiteFile, frame: FrameSpec):
    import great_expectations as gx
    from great_expectations.expectations.registry import get_expectation_impl

    expectations = []
    for spec in frame.expectations:
        try:
            expectation_class = get_expectation_impl(spec.type)
        except Exception as exc:
            raise SuiteFileError(
                f"{suite.path}: {spec.name}: unknown expectation type {spec.type!r}"
            ) from exc
        expectations.append(
            expectation_class(
                **spec.kwargs,
                meta={"name": f"{suite.name}.{spec.name}", "severity": spec.severity},
                severity=GX_SEVERITY[spec.severity],
                description=spec.description,
            )
        )
    # Built whole and stored once (add_expectation on a stored suite writes the store each time).
    return gx.ExpectationSuite(
        name=f"{suite.name}.{frame.name}",
        expectations=expectations,
        meta={"source": f"expectations/{suite.path.name}", "frame": frame.description or frame.name},
    )


def _register(context, datasource, suite: SuiteFile, frame: FrameSpec):
    """Get-or-create the frame's DataFrame asset and batch definition; add-or-update its suite (built from
    the YAML on every run) and validation definition, both named ``<file>.<frame>``."""
    import great_expectations as gx

    name = f"{suite.name}.{frame.name}"
    try:  # get_asset links the asset to the context; iterating datasource.assets does not
        asset = datasource.get_asset(name)
    except LookupError:
        asset = datasource.add_dataframe_asset(name)
    try:
        batch = asset.get_batch_definition("candidates")
    except KeyError:
        batch = asset.add_batch_definition_whole_dataframe("candidates")
    gx_suite = context.suites.add_or_update(_gx_suite(suite, frame))
    return context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch, suite=gx_suite)
    )


def _describe_failure(result, id_columns: tuple[str, ...]) -> str:
    if result.exception_info and result.exception_info.get("raised_exception"):
        return f"error: {result.exception_info.get('exception_message')}"
    res = result.result or {}
    parts = []
    if res.get("unexpected_count"):
        parts.append(f"{res['unexpected_count']} unexpected of {res.get('element_count')}")
    if res.get("partial_unexpected_index_list") and id_columns:
        shown = res["partial_unexpected_index_list"][:5]
        parts.append(", ".join(json.dumps(row, default=str, sort_keys=True) for row in shown))
    elif res.get("partial_missing_list"):
        parts.append(f"missing {json.dumps(res['partial_missing_list'][:5], default=str)}")
    elif res.get("partial_unexpected_list"):
        parts.append(f"e.g. {json.dumps(res['partial_unexpected_list'][:5], default=str)}")
    elif "observed_value" in res:
        parts.append(f"observed {json.dumps(res['observed_value'], default=str)}")
    return "; ".join(parts)


def validate(settings: Settings, ds: str, *, raise_on_failure: bool = True) -> GateResult:
    """Run every suite of ``expectations/`` on the candidates of ``ds``; store results and Data Docs.

    Returns the :class:`GateResult`; raises :class:`GateFailed` (naming the failed expectations and the
    Data Docs) when a blocking expectation failed, unless ``raise_on_failure`` is False. The verdict is
    written to ``gx/gate/ds=<ds>.json`` either way.
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}
    suites = load_suite_files(settings.expectations_dir)
    with connect(settings, read_only=True) as con:
        params = gate_parameters(con)
        missing = {
            p
            for suite in suites
            for frame in suite.frames
            for spec in frame.expectations
            for p in _parameters_used(spec.kwargs)
        } - set(params)
        if missing:
            raise RuntimeError(f"gate parameters missing from seeds.gate_thresholds: {sorted(missing)}")
        tables = sorted({s.table for s in suites if s.table})
        missing_tables = [
            t
            for t in tables
            if not con.execute(
                "select count(*) from duckdb_tables() where schema_name = 'marts' and table_name = ?", [t]
            ).fetchall()[0][0]
        ]
        if missing_tables:
            raise RuntimeError(
                f"candidate tables missing from {settings.warehouse_path}: "
                f"{', '.join('marts.' + t for t in missing_tables)} (run dbt build for ds={ds} first)"
            )
        fingerprints = {table: candidate_fingerprint(con, table, ds) for table in tables}
        frames = [
            (suite, frame, _read_frame(con, settings, suite, frame, ds, fingerprints))
            for suite in suites
            for frame in suite.frames
        ]
    timings["read_frames"] = time.perf_counter() - started
    mark = time.perf_counter()
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    context = _gx_context(settings)
    timings["gx_import_and_context"] = time.perf_counter() - mark
    mark = time.perf_counter()
    try:  # get-or-create: add_or_update would drop the assets and rewrite the config on every run
        datasource = context.data_sources.get(DATASOURCE)
    except (KeyError, ValueError, LookupError):
        datasource = context.data_sources.add_pandas(DATASOURCE)
    definitions = [_register(context, datasource, suite, frame) for suite, frame, _df in frames]
    timings["gx_register_suites"] = time.perf_counter() - mark
    mark = time.perf_counter()
    run_id = RunIdentifier(run_name=f"ds={ds}")
    checks: list[CheckOutcome] = []
    identifiers = []
    for definition, (_suite, frame, df) in zip(definitions, frames, strict=True):
        result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 5}
        if frame.id_columns:
            result_format["unexpected_index_column_names"] = list(frame.id_columns)
        validation = definition.run(
            batch_parameters={"dataframe": df},
            expectation_parameters=params,
            result_format=result_format,
            run_id=run_id,
        )
        identifiers.append(
            ValidationResultIdentifier(
                expectation_suite_identifier=ExpectationSuiteIdentifier(name=definition.name),
                run_id=run_id,
                batch_identifier=validation.batch_id,
            )
        )
        for result in validation.results:
            meta = result.expectation_config.meta or {}
            checks.append(
                CheckOutcome(
                    name=meta["name"],
                    severity=meta["severity"],
                    success=bool(result.success),
                    detail="" if result.success else _describe_failure(result, frame.id_columns),
                )
            )
    timings["gx_validate"] = time.perf_counter() - mark
    mark = time.perf_counter()
    context.build_data_docs(resource_identifiers=identifiers)
    timings["data_docs"] = time.perf_counter() - mark

    failed = [c.name for c in checks if not c.success and c.severity == "blocking"]
    gate = GateResult(
        ds=ds,
        passed=not failed,
        failed=failed,
        warnings=[c.name for c in checks if not c.success and c.severity == "warning"],
        data_docs=data_docs_index(settings),
        results_dir=settings.gx_dir / "uncommitted" / "validations",
        checks=checks,
        fingerprints=fingerprints,
        validated_at=run_id.run_time.isoformat(),
        seconds=round(time.perf_counter() - started, 3),
        timings={phase: round(t, 3) for phase, t in timings.items()},
    )
    record = gate_record_path(settings, ds)
    record.parent.mkdir(parents=True, exist_ok=True)
    tmp = record.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(gate.to_json(), indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, record)
    if not gate.passed and raise_on_failure:
        raise GateFailed(gate)
    return gate
