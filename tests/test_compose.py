"""docker-compose.yml and the Dockerfile, checked statically (there is no Docker engine here).

The YAML parses; every service has an image or a build context that exists; every named volume is declared;
the environment the code reads is set and consistent with the image's layout; telemetry is off everywhere;
every `airflow …` command (service commands, health checks, the init script) is a valid command of the
installed Airflow CLI; the Dockerfile installs from requirements.lock.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

import pytest
import yaml
from trust_dw.config import REPO_ROOT
from trust_dw.pipeline import DBT_TASK_MODES, WRITER_POOL

COMPOSE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)
TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1",
    "SCARF_ANALYTICS": "false",
    "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "GX_ANALYTICS_ENABLED": "False",
}
_DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")


def _interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with nothing set in the environment: the default."""
    return _DEFAULT.sub(lambda m: m.group(2), value)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def _env(service: dict) -> dict[str, str]:
    return {k: _interpolate(str(v)) for k, v in (service.get("environment") or {}).items()}


def _mounts(service: dict) -> dict[str, str]:
    """target path → source (named volume or host path) of the service's volumes."""
    out = {}
    for spec in service.get("volumes") or []:
        source, target = spec.split(":")[:2]
        out[target] = source
    return out


def test_every_service_has_an_image_or_an_existing_build(services: dict) -> None:
    assert set(AIRFLOW_SERVICES) <= set(services)
    assert "postgres" in services
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        if "build" in service:
            context = REPO_ROOT / service["build"]["context"]
            assert context.is_dir(), name
            assert (context / service["build"].get("dockerfile", "Dockerfile")).is_file(), name


def test_every_named_volume_is_declared_and_bind_mounts_exist(compose: dict, services: dict) -> None:
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in services.items():
        for source in _mounts(service).values():
            if source.startswith((".", "/", "~")):
                assert (REPO_ROOT / source).exists(), (name, source)
            else:
                used.add(source)
    assert used <= declared, used - declared
    assert {"trust-dw-home", "postgres-db-volume"} <= used


def test_airflow_services_share_the_data_volume_and_the_code_layout(services: dict) -> None:
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    for name in AIRFLOW_SERVICES:
        env = _env(services[name])
        home = env["TRUST_DW_HOME"]
        assert _mounts(services[name])[home] == "trust-dw-home", name
        # the code lives where the image put it: WORKDIR + COPY dags/dbt_project/expectations
        assert f"WORKDIR {env['TRUST_DW_REPO']}" in dockerfile
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == f"{env['TRUST_DW_REPO']}/dags", name
        for folder in ("dags", "dbt_project", "expectations", "include"):
            assert f"COPY {folder} ./{folder}" in dockerfile, folder
            assert (REPO_ROOT / folder).is_dir()
        # Airflow's own state under the volume too (logs, Cosmos cache)
        assert env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"].startswith(home + "/"), name
        assert env["AIRFLOW__COSMOS__CACHE_DIR"].startswith(home + "/"), name


def test_environment_the_code_reads_is_set(services: dict) -> None:
    for name in AIRFLOW_SERVICES:
        env = _env(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False", name
        assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Asia/Shanghai", name  # plain CLI dates = ds
        assert env["TRUST_DW_DBT_TASKS"] in DBT_TASK_MODES, name
        assert re.fullmatch(r"\d+(\.\d+)?[KMGT]?B", env["TRUST_DW_MEMORY_LIMIT"]), name
        assert int(env["TRUST_DW_THREADS"]) >= 1, name
        # the metadata DB is the postgres service; tasks reach the execution API on the api-server service
        conn = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert conn.startswith("postgresql+psycopg2://") and "@postgres/" in conn, name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        # every Airflow process signs and checks task tokens with the same secret
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"], name


def test_telemetry_is_off_in_every_service_and_in_the_image(services: dict) -> None:
    for name, service in services.items():
        if "build" not in service:
            continue
        assert TELEMETRY_OFF.items() <= _env(service).items(), name
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    for key, value in TELEMETRY_OFF.items():
        assert f"{key}={value}" in dockerfile, key


def test_startup_order_is_enforced_by_conditions(services: dict) -> None:
    for name, service in services.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in services, (name, target)
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[target], (name, target)
            else:
                assert rule["condition"] == "service_completed_successfully", (name, target)
                assert services[target].get("restart") == "no", target
    for name in AIRFLOW_SERVICES:
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy", name
        if name != "airflow-init":
            assert (
                services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
            )
            assert "healthcheck" in services[name], name
            assert services[name]["restart"] == "always", name
    # LocalExecutor runs tasks in the scheduler; they call the execution API of the api-server
    assert services["airflow-scheduler"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def _airflow_commands(services: dict) -> list[list[str]]:
    """Every `airflow …` invocation in the file: commands, health checks, lines of shell scripts."""
    found = []
    for service in services.values():
        command = service.get("command") or []
        if command[:1] == ["airflow"]:
            found.append(command)
        scripts = [command[-1]] if command[:2] == ["bash", "-c"] else []
        test = (service.get("healthcheck") or {}).get("test") or []
        if test[:1] == ["CMD-SHELL"]:
            scripts.append(test[1])
        elif test[:1] == ["CMD"] and test[1:2] == ["airflow"]:
            found.append(test[1:])
        for script in scripts:
            for line in script.replace("$${HOSTNAME}", "host").splitlines():
                words = shlex.split(line)
                if words[:1] == ["airflow"]:
                    found.append(words)
    return found


_VALIDATE = r"""
import json, sys
from airflow.cli.cli_parser import get_parser

bad = []
for argv in json.loads(sys.argv[1]):
    try:
        get_parser().parse_args(argv[1:])
    except SystemExit:
        bad.append(argv)
print("@@" + json.dumps(bad))
"""
# Commands that must be refused: Airflow 2's `webserver`, a made-up `pools create` (negative controls).
WRONG_COMMANDS = [["airflow", "webserver"], ["airflow", "pools", "create", WRITER_POOL]]


@pytest.fixture(scope="module")
def refused(services: dict, tmp_path_factory: pytest.TempPathFactory) -> list[list[str]]:
    """The commands (of the file + the wrong ones) that the installed Airflow's CLI parser refuses."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow")), "DO_NOT_TRACK": "1"})
    commands = _airflow_commands(services) + WRONG_COMMANDS
    done = subprocess.run(
        [sys.executable, "-c", _VALIDATE, json.dumps(commands)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    marker = [line for line in done.stdout.splitlines() if line.startswith("@@")]
    assert marker, done.stderr[-2000:]
    return json.loads(marker[-1][2:])


def test_every_airflow_command_is_valid_for_the_installed_airflow(services: dict, refused: list) -> None:
    commands = _airflow_commands(services)
    subcommands = {tuple(c[1:3]) if c[1] in ("db", "pools", "jobs") else (c[1],) for c in commands}
    assert {
        ("api-server",),
        ("scheduler",),
        ("dag-processor",),
        ("triggerer",),
        ("db", "migrate"),
    } <= subcommands
    assert ["airflow", "pools", "set", WRITER_POOL, "1"] in [c[:5] for c in commands]
    assert [c for c in refused if c in commands] == []


def test_a_bad_airflow_command_would_be_caught(refused: list) -> None:
    assert [c for c in refused if c in WRONG_COMMANDS] == WRONG_COMMANDS


def test_dockerfile_installs_from_the_lock_and_nothing_at_startup(compose: dict) -> None:
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert re.search(r"^COPY requirements\.lock \./$", dockerfile, re.M)
    assert re.search(r"^RUN pip install -r requirements\.lock$", dockerfile, re.M)
    assert re.search(r"pip install --no-deps -e \.", dockerfile)  # the package itself, deps from the lock
    text = COMPOSE.read_text(encoding="utf-8") + dockerfile
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in text
    # the lock holds the PostgreSQL drivers the compose metadata DB needs
    lock = (REPO_ROOT / "requirements.lock").read_text(encoding="utf-8")
    assert re.search(r"^psycopg2-binary==", lock, re.M) and re.search(r"^asyncpg==", lock, re.M)
    assert "curl" in dockerfile  # the health checks call curl
    ignored = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".git", ".venv", "var"} <= set(ignored)
