import os
import stat
from pathlib import Path

import pytest

from pgspatial.errors import ServerNotFound
from pgspatial.local.binaries import find_server


def _fake_server(bindir: Path, version: str) -> None:
    """Executables that answer like a PostgreSQL install without PostGIS."""
    bindir.mkdir(parents=True)
    for name in ("initdb", "pg_ctl", "postgres"):
        tool = bindir / name
        tool.write_text(f"#!/bin/sh\necho 'postgres (PostgreSQL) {version}'\n")
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)


def test_empty_bindir_names_what_to_install(tmp_path):
    with pytest.raises(ServerNotFound) as caught:
        find_server(tmp_path)
    message = str(caught.value)
    assert f"PG_BINDIR={tmp_path}" in message
    assert "postgis-3" in message
    assert "apt-get install" in message


def test_server_without_postgis_names_the_postgis_package(tmp_path):
    _fake_server(tmp_path / "bin", "97.2")
    with pytest.raises(ServerNotFound) as caught:
        find_server(tmp_path / "bin")
    message = str(caught.value)
    assert "PostgreSQL 97.2" in message
    assert "postgresql-97-postgis-3" in message


@pytest.mark.skipif(not Path("/usr/lib/postgresql").is_dir(), reason="no Debian PostgreSQL here")
def test_the_installed_server_is_found_with_postgis():
    server = find_server()
    assert server.has_postgis
    assert server.major >= 12
    assert os.access(server.tool("pg_ctl"), os.X_OK)
