"""docker-compose.yml and the Dockerfile, checked statically (there is no Docker engine here).

The YAML parses; every service has an image or a build context that exists; every named volume is declared;
the environment the code reads is set and consistent with the image's layout; telemetry is off everywhere;
every `airflow …` command (service commands, health checks, the init script) is a valid command of the
installed Airflow CLI; the Dockerfile installs from requirements.lock. The serving services: the snapshot
API runs a real `trust-dw serve` on the port it publishes and health-checks; Superset (deploy/superset)
pins the DuckDB of requirements.lock and registers exactly the serving file Settings computes, read-only;
both mount the data volume read-only.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import typer
import yaml
from sqlalchemy.engine import make_url
from trust_dw.api import create_app
from trust_dw.cli import app as trust_dw_cli
from trust_dw.config import REPO_ROOT, Settings
from trust_dw.pipeline import DBT_TASK_MODES, WRITER_POOL
from trust_dw.publish import refresh_serving_file

COMPOSE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
SUPERSET_DIR = REPO_ROOT / "deploy" / "superset"
# Services that read what was published; they must never be able to write the data volume.
SERVING_READERS = ("snapshot-api", "superset")
SUPERSET_SERVICES = ("superset-init", "superset")
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
    built = [name for name, service in services.items() if "build" in service]
    assert set(SUPERSET_SERVICES) < set(built)
    for name in built:
        if services[name]["build"]["context"] == ".":  # the trust-dw image: Airflow, dbt, Cosmos, GX
            assert TELEMETRY_OFF.items() <= _env(services[name]).items(), name
        else:  # Superset: the generic opt-out and its Scarf pixel (also off in superset_config.py)
            assert {"DO_NOT_TRACK": "1", "SCARF_ANALYTICS": "false"}.items() <= _env(services[name]).items()
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


# --- the serving services: snapshot API and Superset ----------------------------------------------------


def _mount_modes(service: dict) -> dict[str, tuple[str, str]]:
    """target path → (source, mode) of the service's volumes; mode "rw" unless the spec says "ro"."""
    out = {}
    for spec in service.get("volumes") or []:
        source, target, *options = spec.split(":")
        out[target] = (source, "ro" if "ro" in ",".join(options).split(",") else "rw")
    return out


def _data_home(services: dict) -> str:
    """TRUST_DW_HOME of the pipeline (the same in every Airflow service, checked above)."""
    return _env(services["airflow-scheduler"])["TRUST_DW_HOME"]


def _health_url(service: dict) -> str:
    test = service["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], test  # python, not curl: an image may have no curl
    urls = re.findall(r"urlopen\('([^']+)'", test[3])
    assert len(urls) == 1, test
    return urls[0]


def _published_container_ports(service: dict) -> set[int]:
    return {int(_interpolate(str(spec)).rsplit(":", 1)[1]) for spec in service.get("ports") or []}


def test_the_serving_services_exist_and_mount_the_data_volume_read_only(services: dict) -> None:
    home = _data_home(services)
    for name in SERVING_READERS:
        # at the pipeline's path: the serving file's views hold absolute paths to exports/
        assert _mount_modes(services[name])[home] == ("trust-dw-home", "ro"), name
    assert "trust-dw-home" not in {s for s, _ in _mount_modes(services["superset-init"]).values()}
    # negative control: the writer mounts the same volume read-write
    assert _mount_modes(services["airflow-scheduler"])[home] == ("trust-dw-home", "rw")
    # depends_on only what they need: the volume is first created (and owned by uid 50000) by the trust-dw
    # image's airflow-init before any reader mounts it; Superset serves after its own init.
    done = {"condition": "service_completed_successfully"}
    assert services["snapshot-api"]["depends_on"] == {"airflow-init": done}
    assert services["superset-init"]["depends_on"] == {"airflow-init": done}
    assert services["superset"]["depends_on"] == {"superset-init": done}
    for name in SERVING_READERS:
        assert services[name]["restart"] == "always", name


def _serve_params(argv: list[str]) -> dict:
    """Parse argv with the real `trust-dw` Typer app (what the container runs), without running it."""
    group = typer.main.get_command(trust_dw_cli)
    assert argv[0] == "trust-dw" and argv[1] in group.commands, argv
    return group.commands[argv[1]].make_context(argv[1], list(argv[2:])).params


def test_the_snapshot_api_runs_trust_dw_serve_on_the_port_it_publishes_and_checks(services: dict) -> None:
    api = services["snapshot-api"]
    assert api["build"]["context"] == "." and api["image"] == services["airflow-scheduler"]["image"]
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^trust-dw = "trust_dw\.cli:app"$', pyproject, re.M)  # the console script in the image
    command = api["command"]
    assert command[:2] == ["trust-dw", "serve"]
    params = _serve_params(command)
    assert params["host"] == "0.0.0.0" and params["write_openapi"] is None
    port = params["port"]
    assert _published_container_ports(api) == {port}
    url = _health_url(api)
    assert re.fullmatch(rf"http://127\.0\.0\.1:{port}/healthz", url), url
    # the health check hits a real route of the API
    routes = {route.path for route in create_app(REPO_ROOT / "nonexistent-exports").routes}
    assert "/healthz" in routes and "/v1/tables" in routes
    # Settings.from_env() in the container: the same home as the pipeline, so exports/ is the published one
    assert _env(api)["TRUST_DW_HOME"] == _data_home(services)
    assert _env(api)["TRUST_DW_REPO"] == _env(services["airflow-scheduler"])["TRUST_DW_REPO"]


def test_a_wrong_serve_command_would_be_caught() -> None:
    with pytest.raises(Exception, match="No such option"):
        _serve_params(["trust-dw", "serve", "--bind", "0.0.0.0:8000"])
    with pytest.raises(AssertionError):
        _serve_params(["trust-dw", "server", "--port", "8000"])


def _superset_dockerfile() -> str:
    return (SUPERSET_DIR / "Dockerfile").read_text(encoding="utf-8")


def test_the_superset_image_pins_the_duckdb_of_the_lock(services: dict) -> None:
    for name in SUPERSET_SERVICES:
        build = services[name]["build"]
        assert (REPO_ROOT / build["context"]).resolve() == SUPERSET_DIR, name
    dockerfile = _superset_dockerfile()
    assert re.search(r"^FROM apache/superset:\d+\.\d+\.\d+$", dockerfile, re.M)  # a release, never `latest`
    lock = (REPO_ROOT / "requirements.lock").read_text(encoding="utf-8")
    locked = re.search(r"^duckdb==(\S+)$", lock, re.M).group(1)
    assert re.findall(r"\bduckdb==(\S+)", dockerfile) == [locked]
    assert re.search(r"\bduckdb-engine==\d+\.\d+\.\d+\b", dockerfile)
    # superset_config.py is copied exactly where SUPERSET_CONFIG_PATH points
    for name in SUPERSET_SERVICES:
        config_path = _env(services[name])["SUPERSET_CONFIG_PATH"]
        assert f"COPY superset_config.py {config_path}" in dockerfile, name
    assert (SUPERSET_DIR / "superset_config.py").is_file()


def _serving_uri(services: dict) -> str:
    return _env(services["superset-init"])["TRUST_DW_SERVING_URI"]


def test_superset_registers_the_serving_file_read_only(services: dict) -> None:
    uri = make_url(_serving_uri(services))
    assert uri.drivername == "duckdb"
    # exactly the file Settings computes for the pipeline's TRUST_DW_HOME, visible at that path in Superset
    home = _data_home(services)
    assert uri.database == str(Settings(home=Path(home)).serving_path)
    assert uri.database.startswith(home + "/")
    assert _mount_modes(services["superset"])[home] == ("trust-dw-home", "ro")
    assert dict(uri.query) == {"access_mode": "read_only"}
    script = services["superset-init"]["command"][-1]
    assert 'superset set-database-uri --database_name trust_dw --uri "$${TRUST_DW_SERVING_URI}"' in script


def test_the_uri_options_open_a_real_serving_file_read_only(services: dict, tmp_path: Path) -> None:
    """duckdb-engine turns the URI's query into duckdb.connect(config=…): do that with the pinned DuckDB."""
    uri = make_url(_serving_uri(services))
    serving = refresh_serving_file(Settings(home=tmp_path))  # a real (empty) serving file, as publish builds
    con = duckdb.connect(str(serving), config=dict(uri.query))
    try:
        assert con.execute("select current_setting('access_mode')").fetchone() == ("read_only",)
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("create table t (x integer)")
    finally:
        con.close()


def test_superset_listens_where_it_is_published_and_health_checked(services: dict) -> None:
    server = services["superset"]
    port = int(_env(server)["SUPERSET_PORT"])  # what the image's run-server.sh binds
    assert _published_container_ports(server) == {port}
    assert _health_url(server) == f"http://127.0.0.1:{port}/health"
    assert "command" not in server  # the image's own gunicorn entry (run-server.sh)


_SHELL_VAR = re.compile(r"\$\$\{?(\w+)")
_COMPOSE_VAR = re.compile(r"(?<!\$)\$\{(\w+)([^}]*)\}")


def test_every_variable_the_bi_services_use_is_defined(services: dict) -> None:
    config = (SUPERSET_DIR / "superset_config.py").read_text(encoding="utf-8")
    required = set(re.findall(r'os\.environ\["(\w+)"\]', config))
    optional = set(re.findall(r'os\.environ\.get\(\s*"(\w+)"', config))
    assert {"SUPERSET_SECRET_KEY"} <= required and "SUPERSET_METADATA_DB_URI" in optional
    for name in SUPERSET_SERVICES:
        env = _env(services[name])
        assert required <= env.keys(), (name, required - env.keys())
        assert env["SUPERSET_SECRET_KEY"], name
        # the script's shell variables ($$VAR in compose = $VAR in the container) are set by the service
        script = " ".join(services[name].get("command") or [])
        assert set(_SHELL_VAR.findall(script)) <= env.keys(), name
        # every ${VAR} compose substitutes has a default, so `docker compose up` needs no .env
        raw = yaml.safe_dump(services[name])
        for var, rest in _COMPOSE_VAR.findall(raw):
            assert rest.startswith(":-"), (name, var)
    script = services["superset-init"]["command"][-1]
    assert set(_SHELL_VAR.findall(script)) == {
        "SUPERSET_ADMIN_USER",
        "SUPERSET_ADMIN_PASSWORD",
        "SUPERSET_ADMIN_EMAIL",
        "TRUST_DW_SERVING_URI",
    }
    assert "SUPERSET_ADMIN_PASSWORD" not in _env(services["superset"])  # only the one-off init knows it


def test_superset_config_reads_its_environment(monkeypatch: pytest.MonkeyPatch, services: dict) -> None:
    import runpy

    env = _env(services["superset"])
    for key in ("SUPERSET_SECRET_KEY", "SUPERSET_METADATA_DB_URI"):
        monkeypatch.setenv(key, env[key])
    config = runpy.run_path(str(SUPERSET_DIR / "superset_config.py"))
    assert config["SECRET_KEY"] == env["SUPERSET_SECRET_KEY"]
    # the metadata DB lives in the superset-home volume, so it survives a container rebuild
    metadata = make_url(config["SQLALCHEMY_DATABASE_URI"])
    assert metadata.drivername == "sqlite"
    assert _mount_modes(services["superset"])["/app/superset_home"] == ("superset-home", "rw")
    assert metadata.database.startswith("/app/superset_home/")
    # a replaced serving file is never answered from a cache; no pool settings override Superset's NullPool
    assert config["DATA_CACHE_CONFIG"] == {"CACHE_TYPE": "NullCache"}
    assert not {"SQLALCHEMY_ENGINE_OPTIONS", "DB_CONNECTION_MUTATOR"} & config.keys()
    assert config["SCARF_ANALYTICS"] is False
    monkeypatch.delenv("SUPERSET_SECRET_KEY")
    with pytest.raises(KeyError, match="SUPERSET_SECRET_KEY"):  # no silent default secret
        runpy.run_path(str(SUPERSET_DIR / "superset_config.py"))
