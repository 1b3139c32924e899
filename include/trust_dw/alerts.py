"""Structured failure alerts: one JSON line in ``$TRUST_DW_HOME/logs/alerts.jsonl``, and a POST to a webhook.

- :func:`send_alert` appends the alert (one line, under an advisory lock so concurrent writers never
  interleave), then, when ``TRUST_DW_ALERT_WEBHOOK_URL`` is set, POSTs the same JSON to it with a short
  timeout (``TRUST_DW_ALERT_WEBHOOK_TIMEOUT_SECONDS``, default 5). It never raises: an alert that cannot be
  delivered must not hide the failure it reports; the delivery outcome is returned and logged.
- :func:`on_failure_callback` is the Airflow task callback (``default_args`` of the DAG): it alerts with
  the task, run, ds, try and the exception, and records a failed stage in the run ledger for the tasks
  that do not record themselves (sensors that timed out, Cosmos dbt tasks).
- :func:`alert_failed_run` is the same alert for a ``trust-dw run`` / ``trust-dw backfill`` that failed.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import traceback
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trust_dw.config import Settings

log = logging.getLogger(__name__)

ALERTS_FILE = "alerts.jsonl"
WEBHOOK_URL_ENV = "TRUST_DW_ALERT_WEBHOOK_URL"
WEBHOOK_TIMEOUT_ENV = "TRUST_DW_ALERT_WEBHOOK_TIMEOUT_SECONDS"
DEFAULT_TIMEOUT_SECONDS = 5.0
ERROR_CHARS = 4000


@dataclass
class Delivery:
    """What happened to one alert: always written to the file; ``webhook`` = posted | failed | off."""

    path: Path
    alert: dict[str, Any]
    webhook: str
    http_status: int | None = None
    problem: str | None = None


def alerts_path(settings: Settings) -> Path:
    return settings.logs_dir / ALERTS_FILE


def _timeout() -> float:
    raw = os.environ.get(WEBHOOK_TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT_SECONDS
    except ValueError:
        log.warning(
            "%s=%r is not a number of seconds; using %s", WEBHOOK_TIMEOUT_ENV, raw, DEFAULT_TIMEOUT_SECONDS
        )
        return DEFAULT_TIMEOUT_SECONDS
    return value if value > 0 else DEFAULT_TIMEOUT_SECONDS


def _append_line(path: Path, alert: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(alert, sort_keys=True, default=str) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
    finally:
        os.close(fd)  # closing releases the lock


def _post(url: str, alert: dict[str, Any], timeout: float) -> tuple[int | None, str | None]:
    body = json.dumps(alert, sort_keys=True, default=str).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": "trust-dw"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured URL)
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code} {exc.reason}"
    except (TimeoutError, urllib.error.URLError, OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"


def send_alert(settings: Settings, alert: dict[str, Any]) -> Delivery:
    """Write the alert line, then POST it to the webhook if one is configured. Never raises."""
    alert = {"alert_at": datetime.now(UTC).isoformat(timespec="seconds"), "severity": "error", **alert}
    path = alerts_path(settings)
    delivery = Delivery(path=path, alert=alert, webhook="off")
    try:
        _append_line(path, alert)
    except Exception as exc:  # a full disk must not replace the failure being reported
        delivery.problem = f"alert not written to {path}: {exc}"
        log.error("%s; the alert was: %s", delivery.problem, alert)
    url = os.environ.get(WEBHOOK_URL_ENV, "").strip()
    if url:
        try:
            delivery.http_status, problem = _post(url, alert, _timeout())
        except Exception as exc:  # anything else urllib may raise
            delivery.http_status, problem = None, f"{type(exc).__name__}: {exc}"
        ok = problem is None and delivery.http_status is not None and 200 <= delivery.http_status < 300
        delivery.webhook = "posted" if ok else "failed"
        if not ok:
            delivery.problem = f"webhook {url} not reached: {problem}"
            log.warning("alert %s", delivery.problem)
    return delivery


def _error_fields(error: BaseException | str | None) -> dict[str, Any]:
    if error is None:
        return {"error_type": None, "error": None}
    if isinstance(error, BaseException):
        return {"error_type": type(error).__name__, "error": str(error)[:ERROR_CHARS]}
    return {"error_type": None, "error": str(error)[:ERROR_CHARS]}


# --- Airflow -----------------------------------------------------------------------------------------


def _context_ds(context: Any) -> str | None:
    from trust_dw.pipeline import business_ds

    dag_run = context.get("dag_run")
    logical = context.get("logical_date") or getattr(dag_run, "logical_date", None)
    run_after = getattr(dag_run, "run_after", None)
    try:
        return business_ds(logical, run_after)
    except (ValueError, TypeError, AttributeError):
        return None


def task_failure_alert(context: Any) -> dict[str, Any]:
    """The alert of a failed Airflow task, from the callback's context."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    return {
        "kind": "task_failed",
        "source": "airflow",
        "dag_id": getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": context.get("run_id") or getattr(ti, "run_id", None),
        "ds": _context_ds(context),
        "try_number": getattr(ti, "try_number", None),
        "max_tries": getattr(ti, "max_tries", None),
        "log_url": getattr(ti, "log_url", None),
        **_error_fields(context.get("exception")),
    }


def on_failure_callback(context: Any) -> None:
    """Airflow ``on_failure_callback``: structured alert (+ webhook), and a ledger row where needed.

    Runs once a task has failed for good (retries exhausted). Never raises: Airflow would only log it.
    """
    try:
        from trust_dw import run_ledger

        settings = Settings.from_env()
        alert = task_failure_alert(context)
        delivery = send_alert(settings, alert)
        log.info("alert written to %s (webhook: %s)", delivery.path, delivery.webhook)
        task_id = alert.get("task_id") or ""
        if alert.get("ds") and alert.get("run_id") and task_id and not run_ledger.records_itself(task_id):
            stage, feed = run_ledger.stage_of_task(task_id)
            exc = context.get("exception")
            run_ledger.record(
                settings,
                run_id=alert["run_id"],
                ds=alert["ds"],
                trigger="airflow",
                stage=stage,
                feed=feed,
                task_id=task_id,
                attempt=int(alert.get("try_number") or 1),
                started_at=run_ledger.utc_now(),
                seconds=0.0,
                error=exc if isinstance(exc, BaseException) else RuntimeError(str(exc)),
                working_file=False,  # a sensor is not in the writer pool: the JSON record only
            )
    except Exception:
        log.error("on_failure_callback failed:\n%s", traceback.format_exc())


# --- trust-dw run / backfill ---------------------------------------------------------------------------


def alert_failed_run(
    settings: Settings, *, ds: str, run_id: str, trigger: str, stage: str, error: BaseException | None
) -> Delivery:
    """The alert of a ``trust-dw run`` / ``trust-dw backfill`` that stopped at ``stage``."""
    return send_alert(
        settings,
        {
            "kind": "run_failed",
            "source": f"trust-dw {trigger}",
            "dag_id": None,
            "task_id": stage,
            "run_id": run_id,
            "ds": ds,
            "try_number": 1,
            "max_tries": 0,
            "log_url": None,
            **_error_fields(error),
        },
    )


def read_alerts(settings: Settings) -> list[dict[str, Any]]:
    """Every alert written so far, oldest first."""
    path = alerts_path(settings)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
