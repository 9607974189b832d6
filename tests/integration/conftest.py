import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def open_tmp_dir() -> Iterator[Path]:
    """A temp dir the unprivileged server user can enter (pytest's own tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="pgspatial-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pgspatial`` with a controlled environment."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "PGSPATIAL_HOME", "PG_BINDIR"}
    }
    return subprocess.run(
        [sys.executable, "-m", "pgspatial", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
