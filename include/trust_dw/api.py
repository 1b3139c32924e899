"""The snapshot API for downstream services (DESIGN §1, §9): read-only, answered from ``exports/`` only.

Run it with ``trust-dw serve --host 127.0.0.1 --port 8000`` (uvicorn). It never opens the working
DuckDB file and never opens anything for writing: every answer comes from the published Parquet
snapshots and their manifests (see ``trust_dw.snapshots``). Only complete partitions (``_SUCCESS`` +
``_manifest.json`` + ``part-0.parquet``) are visible.

Point look-ups read a partition once and keep an index of it in memory, keyed by
(table, ds, sha256 of the file): a rerun that republishes a ds gets a new sha256 and so a fresh index.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import AfterValidator, BaseModel, Field

from trust_dw import __version__
from trust_dw.config import Settings
from trust_dw.snapshots import Partition, PublishedTable, SnapshotStore

MIN_DS = date(2000, 1, 1)
MAX_DS = date(2099, 12, 31)
MAX_LIMIT = 10_000
# Exactly the real calendar dates 2000-01-01 … 2099-12-31 (leap days included), so the published spec
# says precisely what is accepted; _parse_ds checks it again in Python.
DS_PATTERN = (
    r"^(?:20\d{2}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
    r"|20(?:[02468][048]|[13579][26])-02-29)$"
)
ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,128}$"
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"


class RecipientType(StrEnum):
    shop = "shop"
    creator = "creator"
    product = "product"
    reserve = "reserve"


RECIPIENT_ORDER = {t.value: i for i, t in enumerate(RecipientType)}


def _parse_ds(value: str) -> date:
    """A real calendar date, written YYYY-MM-DD, within 2000-01-01 … 2099-12-31."""
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a real date (YYYY-MM-DD)") from None
    if not MIN_DS <= parsed <= MAX_DS:
        raise ValueError(f"{value} is outside the accepted range {MIN_DS} … {MAX_DS}")
    return parsed


_DS_DOC = "Business date YYYY-MM-DD (Asia/Shanghai), 2000-01-01 … 2099-12-31."
DsPath = Annotated[
    str,
    PathParam(pattern=DS_PATTERN, description=_DS_DOC, examples=["2026-01-03"]),
    AfterValidator(_parse_ds),
]
DsQuery = Annotated[
    str | None,
    Query(pattern=DS_PATTERN, description=_DS_DOC + " Default: the latest published ds."),
    AfterValidator(lambda v: None if v is None else _parse_ds(v)),
]


def _id_path(what: str) -> Any:
    return PathParam(pattern=ID_PATTERN, description=f"The {what} id.", examples=["S000001"])


# --- response bodies ------------------------------------------------------------------------------
class ErrorBody(BaseModel):
    error: str = Field(description="`not_found`")
    detail: str = Field(description="What is missing, in words.")
    table: str | None = None
    ds: date | None = None
    id: str | None = None


class TableDates(BaseModel):
    table: PublishedTable
    key: list[str]
    dates: list[date] = Field(description="Every visible (complete) published ds, oldest first.")
    latest: date | None


class TablesOut(BaseModel):
    tables: list[TableDates]


class PartitionOut(BaseModel):
    table: PublishedTable
    ds: date
    rows: int | None
    sha256: str = Field(description="sha256 of part-0.parquet; also its strong ETag.")
    manifest_url: str
    parquet_url: str


class RowOut(BaseModel):
    table: PublishedTable
    ds: date
    sha256: str
    row: dict[str, Any] = Field(description="The published row; DECIMAL columns as JSON numbers.")


class FlowOut(BaseModel):
    table: PublishedTable
    ds: date
    sha256: str
    pool_id: str
    recipient_type: RecipientType | None
    total: int = Field(description="Rows of the pool (and recipient type) before limit/offset.")
    rows: list[dict[str, Any]] = Field(
        description="By recipient type (shop, creator, product, reserve), then rank."
    )


class Health(BaseModel):
    status: str
    version: str
    tables_published: int


class NotFound(Exception):
    def __init__(self, detail: str, table: str | None = None, ds: date | None = None, id: str | None = None):
        super().__init__(detail)
        self.body = ErrorBody(error="not_found", detail=detail, table=table, ds=ds, id=id)


NOT_FOUND = {404: {"model": ErrorBody, "description": "Unknown table, ds or id (the body says which)."}}


# --- JSON conversion of Arrow values ----------------------------------------------------------------
def to_json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    return value


# --- in-memory indexes of partitions --------------------------------------------------------------
class KeyIndex:
    """A partition with a dict from its entity key (as text) to the row position."""

    def __init__(self, partition: Partition, key_column: str) -> None:
        self.table = partition.read()
        keys = self.table.column(key_column).to_pylist()
        self.positions = {str(k): i for i, k in enumerate(keys)}

    def row(self, key: str) -> dict[str, Any] | None:
        pos = self.positions.get(key)
        if pos is None:
            return None
        return {k: to_json_value(v) for k, v in self.table.slice(pos, 1).to_pylist()[0].items()}


class FlowIndex:
    """``flow_allocation_daily`` of one ds, grouped by pool and ordered by type then rank."""

    def __init__(self, partition: Partition) -> None:
        rows = [{k: to_json_value(v) for k, v in r.items()} for r in partition.read().to_pylist()]
        rows.sort(
            key=lambda r: (
                str(r.get("pool_id")),
                RECIPIENT_ORDER.get(str(r.get("recipient_type")), len(RECIPIENT_ORDER)),
                r.get("rank") is None,
                r.get("rank") or 0,
                str(r.get("recipient_id")),
            )
        )
        self.pools: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            self.pools.setdefault(str(r.get("pool_id")), []).append(r)


class IndexCache:
    """LRU of partition indexes keyed by (table, ds, sha256, kind)."""

    def __init__(self, max_entries: int = 32) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, date, str, str], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, partition: Partition, kind: str, build: Callable[[], Any]) -> Any:
        key = (partition.table.value, partition.ds, partition.sha256, kind)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            value = build()
            self._entries[key] = value
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            return value


# --- the app --------------------------------------------------------------------------------------
def create_app(exports_dir: Path | None = None) -> FastAPI:
    """The API over ``exports_dir`` (default: ``$TRUST_DW_HOME/exports``)."""
    store = SnapshotStore(exports_dir or Settings.from_env().exports_dir)
    cache = IndexCache()
    app = FastAPI(
        title="trust-dw snapshot API",
        version=__version__,
        description=(
            "Read-only access to the published daily snapshots of the trust-commerce warehouse "
            "(scores, tiers, flow allocation). Only complete partitions are visible."
        ),
    )
    app.state.store = store
    app.state.cache = cache

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content=exc.body.model_dump(mode="json"))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        """An unknown table is a missing resource (404, naming the tables that exist); the rest is 422."""
        for error in exc.errors():
            if tuple(error.get("loc", ()))[:2] == ("path", "table"):
                known = ", ".join(t.value for t in PublishedTable)
                body = ErrorBody(
                    error="not_found", detail=f"unknown table {error.get('input')!r}; tables: {known}"
                )
                return JSONResponse(status_code=404, content=body.model_dump(mode="json"))
        errors = [_plain_error(e) for e in exc.errors()]
        return JSONResponse(status_code=422, content=jsonable_encoder({"detail": errors}))

    def partition_or_404(table: PublishedTable, ds: date | None) -> Partition:
        if ds is None:
            ds = store.latest(table)
            if ds is None:
                raise NotFound(f"table {table.value} has no published partition", table=table.value)
        part = store.partition(table, ds)
        if part is None:
            raise NotFound(
                f"table {table.value} has no published partition ds={ds}", table=table.value, ds=ds
            )
        return part

    def table_dates(table: PublishedTable) -> TableDates:
        return TableDates(
            table=table, key=list(table.key), dates=store.dates(table), latest=store.latest(table)
        )

    def urls(part: Partition) -> dict[str, str]:
        base = f"/v1/tables/{part.table.value}/{part.ds.isoformat()}"
        return {"manifest_url": f"{base}/manifest", "parquet_url": f"{base}/parquet"}

    @app.get("/healthz", response_model=Health, tags=["ops"])
    def healthz() -> Health:
        published = sum(1 for t in PublishedTable if store.latest(t) is not None)
        return Health(status="ok", version=__version__, tables_published=published)

    @app.get("/v1/tables", response_model=TablesOut, tags=["snapshots"])
    def list_tables() -> TablesOut:
        """Every published table with its visible dates."""
        return TablesOut(tables=[table_dates(t) for t in PublishedTable])

    @app.get("/v1/tables/{table}/dates", response_model=TableDates, responses=NOT_FOUND, tags=["snapshots"])
    def list_dates(table: PublishedTable) -> TableDates:
        return table_dates(table)

    @app.get(
        "/v1/tables/{table}/latest", response_model=PartitionOut, responses=NOT_FOUND, tags=["snapshots"]
    )
    def latest(table: PublishedTable) -> PartitionOut:
        """The newest published partition (the ds in ``LATEST`` if it is complete)."""
        part = partition_or_404(table, None)
        return PartitionOut(table=table, ds=part.ds, rows=part.rows, sha256=part.sha256, **urls(part))

    @app.get("/v1/tables/{table}/{ds}/manifest", responses=NOT_FOUND, tags=["snapshots"])
    def manifest(table: PublishedTable, ds: DsPath) -> dict[str, Any]:
        """The partition's ``_manifest.json``, as published."""
        return partition_or_404(table, ds).manifest

    @app.get(
        "/v1/tables/{table}/{ds}/parquet",
        response_class=FileResponse,
        responses={
            200: {"content": {PARQUET_MEDIA_TYPE: {}}, "description": "part-0.parquet; ETag = its sha256."},
            304: {"description": "If-None-Match matched the ETag: not modified."},
            **NOT_FOUND,
        },
        tags=["snapshots"],
    )
    def parquet(
        table: PublishedTable,
        ds: DsPath,
        if_none_match: Annotated[str | None, Header(max_length=4096)] = None,
    ) -> Response:
        """Download ``part-0.parquet`` with a strong ETag (the manifest's sha256)."""
        part = partition_or_404(table, ds)
        etag = f'"{part.sha256}"'
        headers = {"ETag": etag, "Cache-Control": "no-cache"}  # a rerun may republish: revalidate
        if if_none_match is not None and _etag_matches(if_none_match, etag):
            return Response(status_code=304, headers=headers)
        return FileResponse(
            part.parquet_path,
            media_type=PARQUET_MEDIA_TYPE,
            filename=f"{table.value}_{part.ds.isoformat()}.parquet",
            headers=headers,
        )

    def entity_lookup(table: PublishedTable, key_column: str) -> Callable[..., RowOut]:
        def lookup(entity_id: str, ds: date | None) -> RowOut:
            part = partition_or_404(table, ds)
            index: KeyIndex = cache.get(part, key_column, lambda: KeyIndex(part, key_column))
            row = index.row(entity_id)
            if row is None:
                raise NotFound(
                    f"{key_column}={entity_id} is not in {table.value} ds={part.ds}",
                    table=table.value,
                    ds=part.ds,
                    id=entity_id,
                )
            return RowOut(table=table, ds=part.ds, sha256=part.sha256, row=row)

        return lookup

    shop_lookup = entity_lookup(PublishedTable.shop_scores_daily, "shop_id")
    creator_lookup = entity_lookup(PublishedTable.creator_scores_daily, "creator_id")
    product_lookup = entity_lookup(PublishedTable.product_tiers_daily, "product_id")
    provider_lookup = entity_lookup(PublishedTable.provider_tiers_daily, "provider_id")

    @app.get("/v1/shops/{shop_id}/score", response_model=RowOut, responses=NOT_FOUND, tags=["look-ups"])
    def shop_score(shop_id: Annotated[str, _id_path("shop")], ds: DsQuery = None) -> RowOut:
        """The shop's row of ``shop_scores_daily`` (experience score, grade, rights, …)."""
        return shop_lookup(shop_id, ds)

    @app.get("/v1/creators/{creator_id}/score", response_model=RowOut, responses=NOT_FOUND, tags=["look-ups"])
    def creator_score(creator_id: Annotated[str, _id_path("creator")], ds: DsQuery = None) -> RowOut:
        """The creator's row of ``creator_scores_daily``."""
        return creator_lookup(creator_id, ds)

    @app.get("/v1/products/{product_id}/tier", response_model=RowOut, responses=NOT_FOUND, tags=["look-ups"])
    def product_tier(product_id: Annotated[str, _id_path("product")], ds: DsQuery = None) -> RowOut:
        """The product's row of ``product_tiers_daily`` (score, tier L0–L5, gate reason)."""
        return product_lookup(product_id, ds)

    @app.get(
        "/v1/providers/{provider_id}/tier", response_model=RowOut, responses=NOT_FOUND, tags=["look-ups"]
    )
    def provider_tier(provider_id: Annotated[str, _id_path("provider")], ds: DsQuery = None) -> RowOut:
        """The service provider's row of ``provider_tiers_daily``."""
        return provider_lookup(provider_id, ds)

    @app.get("/v1/flow/{pool_id}", response_model=FlowOut, responses=NOT_FOUND, tags=["look-ups"])
    def flow(
        pool_id: Annotated[str, PathParam(pattern=r"^[a-z0-9_]{1,64}$", examples=["chuanliu"])],
        ds: DsQuery = None,
        recipient_type: RecipientType | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> FlowOut:
        """A pool's allocation of ``ds`` (in effect on ds + 1), by recipient type then rank."""
        table = PublishedTable.flow_allocation_daily
        part = partition_or_404(table, ds)
        index: FlowIndex = cache.get(part, "flow", lambda: FlowIndex(part))
        rows = index.pools.get(pool_id)
        if rows is None:
            raise NotFound(
                f"pool_id={pool_id} is not in {table.value} ds={part.ds}", table.value, part.ds, pool_id
            )
        if recipient_type is not None:
            rows = [r for r in rows if r.get("recipient_type") == recipient_type.value]
        return FlowOut(
            table=table,
            ds=part.ds,
            sha256=part.sha256,
            pool_id=pool_id,
            recipient_type=recipient_type,
            total=len(rows),
            rows=rows[offset : offset + limit],
        )

    return app


PATTERN_MESSAGES = {
    "ds": f"is not a real date YYYY-MM-DD between {MIN_DS} and {MAX_DS}",
    "pool_id": "is not a pool id (1–64 of a–z, 0–9, _)",
}


def _plain_error(error: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's validation error, with a plain message instead of a regex for pattern mismatches."""
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "string_pattern_mismatch" and loc:
        what = PATTERN_MESSAGES.get(str(loc[-1]), "is not a valid id (1–128 of A–Z, a–z, 0–9, _ . : -)")
        return {
            "type": "invalid_format",
            "loc": loc,
            "msg": f"{error.get('input')!r} {what}",
            "input": error.get("input"),
        }
    error = dict(error)
    error.pop("ctx", None)  # holds the raw exception for value errors: nothing a client can use
    return error


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison; ``*`` matches any current representation."""
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def write_openapi(path: Path) -> None:
    """Write the OpenAPI spec (deterministic, sorted keys) for review, e.g. to docs/openapi.json."""
    spec = create_app(Path("/nonexistent-exports")).openapi()
    path.write_text(json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
