"""The embedded server's configuration, sized to the machine it runs on.

Follows the brief for SSD machines (random_page_cost 1.1, effective_cache_size and work_mem
from RAM) and preloads pg_stat_statements so the doctor can read query statistics.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ServerTuning", "render_config"]

_MIB = 1024 * 1024


def _physical_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


@dataclass(frozen=True)
class ServerTuning:
    """Memory and planner settings derived from the machine's RAM (all sizes in MiB)."""

    shared_buffers_mb: int
    effective_cache_size_mb: int
    work_mem_mb: int
    maintenance_work_mem_mb: int
    max_connections: int = 100
    random_page_cost: float = 1.1

    @classmethod
    def for_machine(cls, memory_bytes: int | None = None) -> ServerTuning:
        """Sizes for a machine with ``memory_bytes`` of RAM (default: this machine's).

        An embedded cluster shares the machine with the application and its tests, so
        shared_buffers takes an eighth of RAM (at most 2 GiB) and effective_cache_size half.
        """
        ram_mb = (memory_bytes or _physical_memory()) // _MIB
        return cls(
            shared_buffers_mb=_clamp(ram_mb // 8, 128, 2048),
            effective_cache_size_mb=_clamp(ram_mb // 2, 256, 64 * 1024),
            work_mem_mb=_clamp(ram_mb // 256, 4, 64),
            maintenance_work_mem_mb=_clamp(ram_mb // 16, 64, 1024),
        )


def render_config(*, port: int, socket_dir: Path, tuning: ServerTuning) -> str:
    """The text of ``pgspatial.conf``, included from the cluster's postgresql.conf."""
    return f"""# Written by pgspatial on every start; edit Settings, not this file.
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
max_connections = {tuning.max_connections}
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = 'top'
pg_stat_statements.max = 10000
track_io_timing = on

# Planner settings for SSD storage (the brief's "Planner Cost Parameters").
random_page_cost = {tuning.random_page_cost}
effective_io_concurrency = 200
shared_buffers = '{tuning.shared_buffers_mb}MB'
effective_cache_size = '{tuning.effective_cache_size_mb}MB'
work_mem = '{tuning.work_mem_mb}MB'
maintenance_work_mem = '{tuning.maintenance_work_mem_mb}MB'
# JIT compilation costs hundreds of milliseconds on large spatial plans and cannot compile
# PostGIS functions: it only slows spatial OLTP queries down.
jit = off

# Streaming replicas (pgspatial db start --replica).
wal_level = replica
max_wal_senders = 10
hot_standby = on

timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
"""
