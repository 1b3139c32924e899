# The trust-dw image: Airflow 3.3 + dbt-duckdb + Great Expectations + the trust_dw package, one image for
# every service of docker-compose.yml. Everything is installed from requirements.lock (the same pinned set
# as `make venv`); nothing is pip-installed when a container starts.
FROM python:3.11-slim

# No telemetry may try the network (DESIGN §11). Code in /opt/trust-dw, data (TRUST_DW_HOME) in a volume.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DO_NOT_TRACK=1 \
    SCARF_ANALYTICS=false \
    AIRFLOW__USAGE_DATA_COLLECTION__ENABLED=False \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False \
    GX_ANALYTICS_ENABLED=False \
    TRUST_DW_REPO=/opt/trust-dw \
    TRUST_DW_HOME=/var/lib/trust-dw \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/trust-dw/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False

# curl: the health checks of docker-compose.yml; tini: signals and zombie reaping for LocalExecutor.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 50000 --gid 0 --home-dir /opt/airflow --create-home --shell /bin/bash airflow

WORKDIR /opt/trust-dw

# Dependencies first (a layer that changes only with the lock file).
COPY requirements.lock ./
RUN pip install -r requirements.lock

# Then the code: the package (editable, so trust_dw.config finds dags/, dbt_project/ and expectations/
# next to it), the DAGs, the dbt project and the Great Expectations suites.
COPY pyproject.toml ./
COPY include ./include
COPY dags ./dags
COPY dbt_project ./dbt_project
COPY expectations ./expectations
RUN pip install --no-deps -e . \
    && mkdir -p /var/lib/trust-dw \
    && chown -R 50000:0 /var/lib/trust-dw /opt/airflow /opt/trust-dw/dbt_project \
    && chmod -R g+rwX /var/lib/trust-dw /opt/airflow /opt/trust-dw/dbt_project

USER 50000:0
VOLUME ["/var/lib/trust-dw"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["trust-dw", "--help"]
