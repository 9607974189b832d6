"""``init_migrations``: a ready Alembic directory whose first revision enables PostGIS."""

from __future__ import annotations

from pathlib import Path

from pgspatial.errors import ConfigError

__all__ = ["init_migrations"]

_ALEMBIC_INI = """\
# Alembic configuration written by `pgspatial init-migrations`.
# Run: alembic -c {ini} upgrade head
[alembic]
script_location = %(here)s
prepend_sys_path = .
path_separator = os
# sqlalchemy.url is left unset: env.py then uses DATABASE_URL, else pgspatial's embedded
# PostGIS. Set it here only for a fixed, non-secret URL.

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""

_ENV_PY = '''\
"""Alembic environment: pgspatial supplies the spatial-aware configuration."""

from alembic import context

from pgspatial.migrations import load_metadata, run_migrations

run_migrations(context, load_metadata("{metadata}"))
'''

_SCRIPT_MAKO = '''\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}

revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
'''

_FIRST_REVISION = '''\
"""Enable PostGIS (and the extensions pgspatial's doctor reads).

Revision ID: 0001_postgis
Revises:
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0001_postgis"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def downgrade() -> None:
    # Dropping PostGIS would drop every spatial column in the database: leave it installed.
    pass
'''


def init_migrations(directory: str | Path, *, metadata: str) -> Path:
    """Create an Alembic directory for ``metadata`` (``"package.module:Base"`` or a MetaData).

    Writes ``alembic.ini``, ``env.py``, ``script.py.mako`` and a first revision that creates
    the postgis extension. Refuses to overwrite an existing non-empty directory.
    Returns the path of ``alembic.ini``.
    """
    if ":" not in metadata:
        raise ConfigError(f"metadata must look like 'package.module:Base', got {metadata!r}.")
    root = Path(directory)
    if root.exists() and any(root.iterdir()):
        raise ConfigError(f"{root} exists and is not empty; choose a new directory.")
    (root / "versions").mkdir(parents=True, exist_ok=True)
    ini = root / "alembic.ini"
    ini.write_text(_ALEMBIC_INI.format(ini=ini))
    (root / "env.py").write_text(_ENV_PY.format(metadata=metadata))
    (root / "script.py.mako").write_text(_SCRIPT_MAKO)
    (root / "versions" / "0001_postgis.py").write_text(_FIRST_REVISION)
    return ini
