"""Superset configuration of the trust-dw deployment (docker-compose service ``superset``).

Read by Superset through ``SUPERSET_CONFIG_PATH``. Everything secret or site-specific comes from the
environment that docker-compose.yml sets; see docs/deploy.md.
"""

import os

# Signs sessions and encrypts the stored connection URIs. Required: Superset refuses its built-in default.
SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]

# Superset's own metadata (users, charts, dashboards, the registered database): SQLite in the named volume
# superset-home by default; point SUPERSET_METADATA_DB_URI at PostgreSQL for a multi-user deployment.
SQLALCHEMY_DATABASE_URI = os.environ.get(
    "SUPERSET_METADATA_DB_URI", "sqlite:////app/superset_home/superset.db"
)

# Freshness of the serving file (replaced by an atomic rename on each publish):
# - Superset opens analytics databases with SQLAlchemy's NullPool (its default; we set no engine_params),
#   so every query opens the serving file anew and a query started after a publish reads the new file.
# - Query results are never cached, so a chart never shows rows of a file that has been replaced.
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}

# No phone-home from the browser (Superset's Scarf pixel) or the server.
SCARF_ANALYTICS = False
