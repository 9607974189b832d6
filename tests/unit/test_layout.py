import os
import pwd
from pathlib import Path

import pytest

from pgspatial.local.layout import ClusterState, default_home, plan_layout
from pgspatial.local.osuser import ServerUser, resolve_server_user

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the server-user switch happens as root")


def _postgres_user() -> ServerUser:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no 'postgres' OS user")
    return resolve_server_user("postgres")


def test_default_home_is_the_project_root(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    nested = tmp_path / "src" / "pkg"
    nested.mkdir(parents=True)
    assert default_home(nested) == tmp_path / ".pgspatial"


def test_state_round_trips(tmp_path):
    state = ClusterState(
        data_dir="/d",
        socket_dir="/s",
        port=5999,
        server_user="postgres",
        bindir="/b",
        major=15,
        fallback_reason="because",
        owned_dirs=("/x",),
    )
    state.save(tmp_path / "state.json")
    assert ClusterState.load(tmp_path / "state.json") == state


@needs_root
def test_server_user_cannot_enter_a_0700_directory(tmp_path):
    user = _postgres_user()
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    os.chmod(private, 0o700)
    assert not user.can_traverse(private / "project")
    os.chmod(private, 0o755)
    opened = Path(os.path.abspath(private))
    # tmp_path's own parents may be private too (pytest makes them 0700); check the leaf only.
    assert opened.stat().st_mode & 0o001


@needs_root
def test_layout_falls_back_when_the_project_is_unreachable(tmp_path):
    user = _postgres_user()
    private = tmp_path / "home"
    private.mkdir(mode=0o700)
    home = private / "project" / ".pgspatial"
    layout = plan_layout(home, user)
    assert layout.fallback_reason is not None
    assert "cannot enter" in layout.fallback_reason
    assert not str(layout.data_dir).startswith(str(private))
    assert layout.owned_dirs, "the fallback directory must be removed by destroy"


def test_long_paths_get_a_short_socket_directory(tmp_path):
    home = tmp_path / ("x" * 90) / ".pgspatial"
    me = resolve_server_user("postgres") if os.geteuid() == 0 else resolve_server_user("ignored")
    layout = plan_layout(home, me)
    assert len(str(layout.socket_dir)) + len("/.s.PGSQL.65535") <= 100
