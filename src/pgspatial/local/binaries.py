"""Finding PostgreSQL server binaries that have PostGIS available."""

from __future__ import annotations

import glob
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pgspatial.errors import ServerNotFound

__all__ = ["ServerBinaries", "find_server"]

_REQUIRED = ("initdb", "pg_ctl", "postgres")
_VERSION_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class ServerBinaries:
    """One PostgreSQL installation: its bin directory, major version and PostGIS status."""

    bindir: Path
    major: int
    version: str
    sharedir: Path | None

    @property
    def has_postgis(self) -> bool:
        """Whether PostGIS's extension control file is installed for this server."""
        return self.sharedir is not None and (self.sharedir / "extension/postgis.control").exists()

    def tool(self, name: str) -> str:
        """Absolute path of a server tool such as ``pg_ctl``."""
        return str(self.bindir / name)


def _candidate_dirs(pg_bindir: Path | None) -> list[Path]:
    if pg_bindir is not None:
        return [pg_bindir]
    dirs: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            dirs.append(Path(out.stdout.strip()))
    dirs.extend(Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin")))
    postgres = shutil.which("postgres")
    if postgres:
        dirs.append(Path(postgres).resolve().parent)
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def _sharedir(bindir: Path, major: int) -> Path | None:
    pg_config = bindir / "pg_config"
    if pg_config.exists():
        out = subprocess.run(
            [str(pg_config), "--sharedir"], capture_output=True, text=True, check=False
        )
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    for guess in (
        Path(f"/usr/share/postgresql/{major}"),
        bindir.parent / "share" / "postgresql",
        bindir.parent / "share",
    ):
        if (guess / "extension").is_dir():
            return guess
    return None


def _inspect(bindir: Path) -> ServerBinaries | None:
    if not all((bindir / tool).is_file() for tool in _REQUIRED):
        return None
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=False
    )
    match = _VERSION_RE.search(out.stdout)
    if out.returncode != 0 or not match:
        return None
    major = int(match.group(1))
    version = out.stdout.strip().rsplit(" ", 1)[-1]
    return ServerBinaries(
        bindir=bindir, major=major, version=version, sharedir=_sharedir(bindir, major)
    )


def find_server(pg_bindir: Path | None = None) -> ServerBinaries:
    """The newest PostgreSQL installation that has PostGIS.

    Searches ``pg_bindir`` alone when given, else ``pg_config --bindir``,
    ``/usr/lib/postgresql/*/bin`` and ``PATH``. Raises :class:`ServerNotFound` naming the
    package to install when no server, or no server with PostGIS, is found.
    """
    found = [b for b in (_inspect(d) for d in _candidate_dirs(pg_bindir)) if b is not None]
    where = (
        f"PG_BINDIR={pg_bindir}" if pg_bindir else "pg_config, /usr/lib/postgresql/*/bin and PATH"
    )
    if not found:
        raise ServerNotFound(
            f"No PostgreSQL server binaries (initdb, pg_ctl, postgres) were found in {where}. "
            "Install PostgreSQL and PostGIS (Debian/Ubuntu: "
            "`sudo apt-get install postgresql postgresql-15-postgis-3`, or run "
            "`scripts/install-system-deps`), or point PG_BINDIR at the server's bin directory."
        )
    with_postgis = [b for b in found if b.has_postgis]
    if not with_postgis:
        newest = max(found, key=lambda b: b.major)
        raise ServerNotFound(
            f"PostgreSQL {newest.version} was found in {newest.bindir}, but PostGIS is not "
            f"installed for it. Install it (Debian/Ubuntu: "
            f"`sudo apt-get install postgresql-{newest.major}-postgis-3`, or run "
            "`scripts/install-system-deps`)."
        )
    return max(with_postgis, key=lambda b: b.major)
